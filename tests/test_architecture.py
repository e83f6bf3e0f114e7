"""The shape the code must keep (issue 15): data flows one way, rooms stay small.

Read from the sources, not from a running import: every ``import`` statement counts, those
under ``if TYPE_CHECKING`` and inside functions included, since a circle that only shows at
type-checking or on first use is still a circle for whoever reads the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "trinity_hybrid"
LINES_MAX = 500
# The rooms above the node: the façade's users. Nothing else may import it.
ABOVE_THE_NODE = {"trinity_hybrid", "trinity_hybrid._cli", "trinity_hybrid.__main__"}
ABOVE_THE_NODE_PACKAGES = ("trinity_hybrid.gateway", "trinity_hybrid.demo")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(name: str, path: Path) -> Iterator[str]:
    """The package's modules ``name`` imports, by absolute name."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in MODULES:
                    yield submodule
                elif target in MODULES:
                    yield target


GRAPH = {name: set(imported_modules(name, path)) - {name} for name, path in MODULES.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_circle() -> None:
    assert len(MODULES) > 30, "the package's modules were not found"
    assert circles(GRAPH) == []


def test_no_room_below_the_node_imports_it() -> None:
    importers = {name for name, imported in GRAPH.items() if "trinity_hybrid._node" in imported}
    below = {
        name for name in importers if name not in ABOVE_THE_NODE and not name.startswith(ABOVE_THE_NODE_PACKAGES)
    }
    assert importers, "the node's importers were not found"
    assert below == set()


@pytest.mark.parametrize(
    "path",
    sorted([*PACKAGE.rglob("*.py"), *(ROOT / "zig").glob("*.zig")]),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_every_source_file_is_small_enough_to_read_in_one_sitting(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= LINES_MAX, f"{path.relative_to(ROOT)} has {lines} lines; split it by concern"
