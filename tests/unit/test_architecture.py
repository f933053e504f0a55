"""The dependency rules of DESIGN.md, enforced: import-linter contracts, a pure domain, no cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "commands", "projections", "adapters", "gateway")
DOMAIN_MAY_IMPORT = frozenset(sys.stdlib_module_names) | {"domain", "eventsourcing", "msgspec"}


def test_import_linter_contracts_hold() -> None:
    # In a process of its own: import-linter's CLI configures logging with dictConfig, which
    # would disable every logger already made in this one (and so blind later caplog tests).
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def imported_top_levels(path: Path) -> set[str]:
    """The first component of every absolute import in a module (relative ones stay inside)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_imports_only_stdlib_eventsourcing_and_msgspec() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) - DOMAIN_MAY_IMPORT)
        for path in sorted((ROOT / "domain").rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_scan_would_catch_an_outsider(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom asyncpg import connect\nfrom . import sibling\n")
    assert imported_top_levels(module) - DOMAIN_MAY_IMPORT == {"asyncpg"}


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Each set of modules that import one another round in a circle, sorted.

    These are the strongly connected components of more than one module, found with Tarjan's
    algorithm, iterative so that a long import chain cannot exhaust Python's recursion limit.
    The only edges are import statements: a module merely being inside a package is none.
    """
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    """The smallest index reachable from a module through modules still on `stack`."""
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> Iterator[str]:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        return iter(sorted(graph.find_modules_directly_imported_by(module)))

    for root in sorted(graph.modules):
        if root in index:
            continue
        # The path of the depth-first search, each module with the imports it has yet to follow.
        path = [(root, visit(root))]
        while path:
            module, imports = path[-1]
            for imported in imports:
                if imported not in index:
                    path.append((imported, visit(imported)))
                    break
                if imported in on_stack:
                    lowest[module] = min(lowest[module], index[imported])
            else:
                path.pop()
                if path:
                    importer = path[-1][0]
                    lowest[importer] = min(lowest[importer], lowest[module])
                if lowest[module] == index[module]:
                    component = []
                    while (member := stack.pop()) != module:
                        on_stack.discard(member)
                        component.append(member)
                    on_stack.discard(module)
                    if component:
                        cycles.append(sorted([module, *component]))
    return sorted(cycles)


def test_no_module_imports_itself_round_a_circle() -> None:
    # Imports made only for type checking count: a circle of them still ties the modules
    # together, so none can be understood, or moved, without the others.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    cycles = import_cycles(graph)

    listed = "\n".join(f"  {', '.join(cycle)}" for cycle in cycles)
    assert not cycles, f"modules importing one another round a circle, one circle a line:\n{listed}"


def graph_of(*imports: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported)
    return graph


def test_the_cycle_search_finds_every_circle_and_only_those() -> None:
    graph = graph_of(
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),  # a circle of three
        ("p.c", "p.d"),  # leads out of it: p.d is in no circle
        ("q.x", "q.y"),
        ("q.y", "q.x"),  # a second, separate circle
        ("q.y", "p.a"),  # one circle reaching another joins neither to it
    )

    assert import_cycles(graph) == [["p.a", "p.b", "p.c"], ["q.x", "q.y"]]


def test_a_module_importing_its_own_package_is_no_circle() -> None:
    # p.a lies inside p, and p's __init__ imports nothing: containment alone is no import back.
    graph = graph_of(("p.a", "p"), ("p.b", "p.a"))

    assert import_cycles(graph) == []
