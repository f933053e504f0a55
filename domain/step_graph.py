"""The needs graph of a pipeline's steps: its edges, its checks, and the order steps may run in."""

from __future__ import annotations

from collections.abc import Iterator, Set

from domain.errors import InvalidValue
from domain.step_spec import StepSpec

Graph = dict[str, tuple[str, ...]]
"""Each step's effective needs, in declaration order."""


def is_sequential(steps: tuple[StepSpec, ...]) -> bool:
    """Whether no step declares `needs` (each then needs the one before it)."""
    return not any(step.needs for step in steps)


def needs_graph(steps: tuple[StepSpec, ...]) -> Graph:
    """Each step's needs as written, or, when none declares any, the step before it."""
    if not is_sequential(steps):
        return {step.name: step.needs for step in steps}
    names = [step.name for step in steps]
    return {name: tuple(names[i - 1 : i]) for i, name in enumerate(names)}


def check_needs(steps: tuple[StepSpec, ...]) -> None:
    """InvalidValue at `steps[i].needs` for a step needing itself, an unknown step, or a cycle."""
    names = {step.name for step in steps}
    for i, step in enumerate(steps):
        for need in step.needs:
            if need == step.name:
                raise InvalidValue(f"steps[{i}].needs", f"{need!r} cannot need itself")
            if need not in names:
                raise InvalidValue(f"steps[{i}].needs", f"unknown step {need!r}")
    if cycle := _find_cycle({step.name: step.needs for step in steps}):
        at = next(i for i, step in enumerate(steps) if step.name == cycle[0])
        raise InvalidValue(f"steps[{at}].needs", f"cycle: {' -> '.join(cycle)}")


def ready(graph: Graph, done: Set[str]) -> Iterator[str]:
    """Steps not in `done` whose needs are all in it, in declaration order."""
    for name, needs in graph.items():
        if name not in done and all(need in done for need in needs):
            yield name


def topological_order(graph: Graph) -> tuple[str, ...]:
    """The graph's steps, each after its needs; ties in declaration order."""
    done: dict[str, None] = {}
    while len(done) < len(graph):
        # Never exhausted on a validated definition: its needs graph has no cycle.
        done[next(ready(graph, done.keys()))] = None
    return tuple(done)


def _find_cycle(needs: Graph) -> list[str] | None:
    """A cycle as `[a, b, ..., a]` (a needs b ...), found depth-first in declaration order."""
    finished: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        path.append(name)
        for need in needs[name]:
            if need in path:
                return [*path[path.index(need) :], need]
            if need not in finished and (cycle := visit(need)):
                return cycle
        path.pop()
        finished.add(name)
        return None

    for name in needs:
        if name not in finished and (cycle := visit(name)):
            return cycle
    return None
