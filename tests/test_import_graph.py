"""No import cycle in faceapp/: Tarjan's strongly connected components over grimp's import graph (the graph
import-linter checks its contracts on; TYPE_CHECKING and function-level imports included)."""

from __future__ import annotations

import grimp


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


def test_faceapp_has_no_import_cycle() -> None:
    graph = grimp.build_graph("faceapp")
    modules = {m for m in graph.modules if m.startswith("faceapp")}
    assert {"faceapp.ui.main_window", "faceapp.core.embedders.registry", "faceapp.core.catalog"} <= modules
    assert cycles(graph, modules) == []


def test_only_the_registry_imports_the_concrete_embedders_in_the_app() -> None:
    graph = grimp.build_graph("faceapp")
    concrete = [f"faceapp.core.embedders.{m}" for m in ("dlib_resnet", "sface", "facenet", "fused", "trained")]
    importers = set().union(*(graph.find_modules_that_directly_import(m) for m in concrete))
    # The benchmarks that measure one embedder (dlib parity) or fuse cached parts may import it directly.
    assert importers == {"faceapp.core.embedders.registry", "faceapp.bench.dlib_parity", "faceapp.bench.embed_cache"}


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
