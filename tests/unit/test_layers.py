"""The Qt-free layers (core, adapters, sandbox) never import PySide6 (DESIGN §2)."""

from __future__ import annotations

import ast
import functools
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
        for node, _in_function, _type_only in _imports(path):  # type-only and lazy imports count here too
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
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


# -- layer directions and cycles -------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def _imports(path: Path) -> tuple[tuple[ast.Import | ast.ImportFrom, bool, bool], ...]:
    """The module's import statements, each with whether it sits inside a function (made when the function is
    called, not when the module is imported) and under ``if TYPE_CHECKING:`` (for annotations only: never run).
    One walk of the tree, parsed once for all the tests of this file."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool, bool]] = []

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append((node, in_function, type_only))
            return
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                visit(child, in_function, True)
            for child in node.orelse:
                visit(child, in_function, type_only)
            return
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for sub in ast.iter_child_nodes(node):
            if isinstance(sub, ast.stmt | ast.ExceptHandler | ast.match_case):  # imports are statements
                visit(sub, inner, type_only)

    visit(ast.parse(path.read_text("utf-8")), False, False)
    return tuple(found)


@functools.cache
def _import_graph(*, lazy: bool = True) -> dict[str, set[str]]:
    """Every module of the package -> the package's modules it imports when run (at the top or, with ``lazy``,
    inside a function; imports for type annotations only are left out)."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets: set[str] = set()
        for node, in_function, type_only in _imports(path):
            if type_only or (in_function and not lazy):
                continue
            found: list[str] = []
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                if node.level:
                    base = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
                    for _ in range(node.level - 1):
                        base = base.rsplit(".", 1)[0]
                    module = f"{base}.{node.module}" if node.module else base
                else:
                    module = node.module or ""
                # ``from pkg import sub`` imports the module ``pkg.sub``; ``from pkg import name`` the package
                found = [f"{module}.{a.name}" if f"{module}.{a.name}" in paths else module for a in node.names]
            for target in found:
                while target not in paths and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in paths and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


# The window's shared look (the theme, its guards, the message dialog): used by the views and the wizard alike,
# importing neither.
SHARED_LOOK = {"enginy_desktop.views.theme", "enginy_desktop.views.guards", "enginy_desktop.views.message",
               "enginy_desktop.views.formatting", "enginy_desktop.views.spinner", "enginy_desktop.views.tasks"}


def _layer(module: str) -> str:
    """``core``, ``adapters``, ``sandbox``, ``views``, ``wizard``, ``cli``, ``look`` (:data:`SHARED_LOOK`) or a
    top-level module's own name."""
    if module in SHARED_LOOK:
        return "look"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


FORBIDDEN = {
    # layer -> layers it must never import
    "core": {"sandbox", "views", "wizard", "cli", "app", "__main__"},
    "adapters": {"core", "sandbox", "views", "wizard", "cli", "app", "__main__"},
    "sandbox": {"core", "views", "wizard", "cli", "app", "__main__"},
    "wizard": {"views", "cli", "app", "__main__"},
    "look": {"views", "wizard", "cli", "app", "__main__"},
}


def test_layers_import_only_downwards() -> None:
    """core never imports the sandbox or the views, adapters never import core (its services open adapters, not
    the other way round), the wizard never imports the views."""
    wrong = sorted(f"{m} -> {t}" for m, targets in _import_graph().items() for t in targets
                   if _layer(t) in FORBIDDEN.get(_layer(m), set()))
    assert not wrong, "imports against the layer directions:\n" + "\n".join(wrong)


def test_no_import_cycles_among_layers() -> None:
    graph: dict[str, set[str]] = {}
    for module, targets in _import_graph().items():
        graph.setdefault(_layer(module), set()).update(_layer(t) for t in targets if _layer(t) != _layer(module))
    assert _cycles(graph) == []


def _package(module: str, graph: dict[str, set[str]]) -> str:
    """The package a module belongs to (a package's ``__init__`` is in the package itself)."""
    is_package = any(other.startswith(module + ".") for other in graph)
    return module if is_package else module.rsplit(".", 1)[0]


def test_no_import_cycles_across_packages_among_qt_free_modules() -> None:
    """Modules of different packages never import each other in a circle when they are imported; a circle
    inside one package is that package's own affair, and an import inside a function (made when it is called)
    is how a module breaks one on purpose."""
    graph = {m: {t for t in ts if _layer(t) in QT_FREE} for m, ts in _import_graph(lazy=False).items()
             if _layer(m) in QT_FREE}
    crossing = [c for c in _cycles(graph) if len({_package(m, graph) for m in c}) > 1]
    assert crossing == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
