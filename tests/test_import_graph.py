"""No import cycle in faceapp/: Tarjan's strongly connected components over grimp's import graph (the graph
import-linter checks its contracts on; TYPE_CHECKING and function-level imports included)."""

from __future__ import annotations

import grimp

# The model catalog's cycle: embedders/base.py creates the concrete embedders, which import base.py, and weights.py
# imports facenet.py, which imports weights.py. Issue 11 item 5 (one spec per model, a registry that alone imports
# the concrete embedders) removes it; nothing else may join it.
KNOWN = frozenset(
    {
        "faceapp.core.embedders.base",
        "faceapp.core.embedders.dlib_resnet",
        "faceapp.core.embedders.facenet",
        "faceapp.core.embedders.fused",
        "faceapp.core.embedders.sface",
        "faceapp.core.weights",
    }
)


def cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[set[str]]:
    """The strongly connected components with more than one module (each holds at least one cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.find_modules_directly_imported_by(node) & modules:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_faceapp_has_no_import_cycle_but_the_known_one() -> None:
    graph = grimp.build_graph("faceapp")
    modules = {m for m in graph.modules if m.startswith("faceapp")}
    assert "faceapp.ui.main_window" in modules
    found = cycles(graph, modules)
    assert [c for c in found if c != KNOWN] == []


def test_nothing_but_the_entry_points_imports_the_main_window() -> None:
    graph = grimp.build_graph("faceapp")
    importers = graph.find_modules_that_directly_import("faceapp.ui.main_window")
    assert importers == {"faceapp.app", "faceapp.ui.screenshots", "faceapp.bench.gui"}


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="a")
    graph.add_import(importer="b", imported="c")
    assert cycles(graph, {"a", "b", "c"}) == [{"a", "b"}]
