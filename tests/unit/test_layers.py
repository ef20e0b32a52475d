"""The Qt-free layers (core, adapters, sandbox) never import PySide6 (DESIGN §2)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "enginy_desktop"
QT_FREE = ("core", "adapters", "sandbox")


def _modules() -> list[Path]:
    return [p for layer in QT_FREE for p in sorted((PACKAGE / layer).rglob("*.py"))]


def test_no_pyside_import_statement_in_qt_free_layers() -> None:
    offenders = []
    for path in _modules():
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("PySide6", "shiboken6", "qasync", "enginy_desktop.views") for n in names):
                offenders.append(str(path.relative_to(PACKAGE)))
            outer = ("enginy_desktop.views", "enginy_desktop.wizard", "enginy_desktop.app")
            if any(n.startswith(outer) for n in names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders, f"Qt imported in the Qt-free layers: {offenders}"


def test_importing_every_qt_free_module_loads_no_qt() -> None:
    names = []
    for path in _modules():
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'qasync')]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
