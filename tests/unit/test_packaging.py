"""Every Python package of the app is listed in pyproject.toml, so a built wheel is complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    declared = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "enginy_desktop").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    missing = sorted(found - declared)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"
    assert "enginy_desktop.resources" in declared
