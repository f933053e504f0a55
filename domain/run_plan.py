"""A run's step plan as a DAG: checking it, and which steps a step waits on or blocks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from domain.errors import InvalidValue
from domain.limits import KEY_MAX
from domain.run_statuses import StepStatus
from domain.run_values import StepPlan, StepState
from domain.value_checks import valid_text


def valid_plan(steps: Iterable[StepPlan]) -> tuple[StepPlan, ...]:
    """The plan with `needs` as tuples, if names are unique and `needs` form a DAG of them."""
    plan = tuple(msgspec.structs.replace(s, needs=tuple(s.needs)) for s in steps)
    names: set[str] = set()
    for step in plan:
        if valid_text("steps.name", step.name, limit=KEY_MAX) != step.name:
            raise InvalidValue("steps.name", f"{step.name!r} has surrounding spaces")
        if step.name in names:
            raise InvalidValue("steps.name", f"{step.name!r} appears twice")
        names.add(step.name)
        if step.retries < 0:
            raise InvalidValue("steps.retries", f"{step.name}: must be >= 0")
        if step.timeout_s < 1:
            raise InvalidValue("steps.timeout_s", f"{step.name}: must be >= 1")
        if step.queue_timeout_s is not None and not 1 <= step.queue_timeout_s <= 86_400:
            raise InvalidValue("steps.queue_timeout_s", f"{step.name}: from 1 to 86400")
        if len(set(step.needs)) != len(step.needs):
            raise InvalidValue("steps.needs", f"{step.name}: a step is needed twice")
    for step in plan:
        if unknown := sorted(set(step.needs) - names):
            raise InvalidValue("steps.needs", f"{step.name} needs unknown {', '.join(unknown)}")
    _refuse_cycles({s.name: s.needs for s in plan})
    return plan


def _refuse_cycles(needs: Mapping[str, tuple[str, ...]]) -> None:
    done: set[str] = set()
    for root in needs:
        # Iterative depth-first walk: a deep chain of steps must not hit the recursion limit.
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            name, index = stack.pop()
            if index == 0:
                if name in path:
                    cycle = [*path[path.index(name) :], name]
                    raise InvalidValue("steps.needs", f"cycle: {' -> '.join(cycle)}")
                if name in done:
                    continue
                path.append(name)
            if index < len(needs[name]):
                stack += [(name, index + 1), (needs[name][index], 0)]
            else:
                done.add(path.pop())


def satisfies(state: StepState, plan: StepPlan) -> bool:
    """Whether a step lets the steps that need it go ahead: it succeeded, or may fail."""
    return state.status is StepStatus.SUCCEEDED or (
        state.status.unsuccessful and plan.allow_failure
    )


def dependants(name: str, plans: Mapping[str, StepPlan]) -> tuple[str, ...]:
    """Every step that needs `name`, directly or not, in plan order."""
    blocked = {name}
    # A DAG in plan order may still list a dependant before what it needs: repeat to a fixpoint.
    changed = True
    while changed:
        changed = False
        for plan in plans.values():
            if plan.name not in blocked and blocked.intersection(plan.needs):
                blocked.add(plan.name)
                changed = True
    return tuple(p for p in plans if p in blocked and p != name)
