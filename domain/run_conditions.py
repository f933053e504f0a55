"""Which pending steps of a run are decided now, and whether each runs or is skipped (and why).

A step is decided once every step it needs has finished (GitHub waits the same way). Its
`if:` is evaluated over the run's trigger, parameters, branch, its needs' outcomes and
outputs, and its matrix values; without a status function the condition is
`success() && (<if>)`, and no `if:` at all is `success()`. `success()` holds when every step
it needs, directly or not, succeeded (or failed with `allow_failure`); `failure()` when one
of them failed for good. A skipped step is not a failure: `!failure()` still holds after one.
Once the run is being cancelled, `cancelled()` holds and `success()` does not, and only the
steps that call `always()` or `cancelled()` are still decided (`runs_when_cancelled`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from domain.conditions import ancestors
from domain.expression_eval import Status, evaluate, text, truthy
from domain.expression_tree import Call, uses_status, walk
from domain.expressions import parse_condition
from domain.limits import REASON_MAX, cut
from domain.run_plan import satisfies
from domain.run_statuses import StepStatus
from domain.run_values import StepPlan, StepState, Trigger
from domain.value_checks import ParamValue

OUTCOMES = {
    StepStatus.SUCCEEDED: "success",
    StepStatus.FAILED: "failure",
    StepStatus.TIMED_OUT: "failure",
    StepStatus.CANCELLED: "cancelled",
    StepStatus.SKIPPED: "skipped",
}
"""A finished step's `steps.<name>.outcome`, in GitHub's words."""
_BUSY = (StepStatus.QUEUED, StepStatus.RUNNING)
_tree = lru_cache(maxsize=1024)(parse_condition)
"""A plan's conditions parsed once: they are asked again on every decision of the run."""


def decidable(plans: Mapping[str, StepPlan], states: Mapping[str, StepState]) -> tuple[str, ...]:
    """Pending steps whose needs have all finished, in plan order, within `max_parallel`."""
    busy = Counter(p.instance_of for n, p in plans.items() if states[n].status in _BUSY)
    found = []
    for name, plan in plans.items():
        if states[name].status is not StepStatus.PENDING:
            continue
        if not all(states[need].status.finished for need in plan.needs):
            continue
        if plan.max_parallel and plan.instance_of:
            if busy[plan.instance_of] >= plan.max_parallel:
                continue
            busy[plan.instance_of] += 1
        found.append(name)
    return tuple(found)


def waits_for_outcomes(plan: StepPlan) -> bool:
    """Whether the step's condition reads how its needs ended (so a failure does not skip it)."""
    return bool(plan.condition) and uses_status(_tree(plan.condition))


def runs_when_cancelled(plan: StepPlan) -> bool:
    """GitHub's rule: when the run is cancelled, a step whose `if:` calls `always()` or
    `cancelled()` is still decided (and runs if its condition holds); the others are cancelled.
    A gated step never is: nobody would be asked to approve work of a cancelled run."""
    if not plan.condition or plan.gate is not None:
        return False
    calls = (n.function for n in walk(_tree(plan.condition)) if isinstance(n, Call))
    return any(name in ("always", "cancelled") for name in calls)


def judge(
    name: str,
    plans: Mapping[str, StepPlan],
    states: Mapping[str, StepState],
    *,
    trigger: Trigger,
    parameters: Mapping[str, ParamValue],
    cancelling: bool,
) -> str | None:
    """None when the step is to run; else why it is skipped."""
    plan = plans[name]
    tree = _tree(plan.condition) if plan.condition else None
    status = _status(name, plans, states, cancelling)
    if (tree is None or not uses_status(tree)) and not status.all_succeeded:
        return _unmet(plan, plans, states)
    if tree is None:
        return None
    context = condition_context(plan, plans, states, trigger=trigger, parameters=parameters)
    value = evaluate(tree, context, status)
    if truthy(value):
        return None
    shown = text(value) if not isinstance(value, Mapping | list | tuple) else type(value).__name__
    return cut(f"if: {plan.condition} evaluated to {shown or repr('')}", REASON_MAX)


def condition_context(
    plan: StepPlan,
    plans: Mapping[str, StepPlan],
    states: Mapping[str, StepState],
    *,
    trigger: Trigger,
    parameters: Mapping[str, ParamValue],
) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    groups: dict[str, list[str | None]] = {}
    for name, state in states.items():
        outcome = OUTCOMES.get(state.status)
        conclusion = "success" if outcome == "failure" and plans[name].allow_failure else outcome
        steps[name] = {"outcome": outcome, "conclusion": conclusion, "outputs": state.outputs}
        if source := plans[name].instance_of:
            groups.setdefault(source, []).append(conclusion)
    for source, conclusions in groups.items():
        steps[source] = {"outcome": _aggregate(conclusions), "conclusion": _aggregate(conclusions),
                         "outputs": {}}  # fmt: skip
    return trigger_context(trigger, parameters) | {"steps": steps, "matrix": dict(plan.matrix)}


def trigger_context(trigger: Trigger, parameters: Mapping[str, ParamValue]) -> dict[str, Any]:
    """What a run knows from its start: `trigger`, `params` and `branch` (the short name of a
    `refs/heads/` ref, or a ref given without `refs/`; null for a tag or no ref)."""
    ref = trigger.ref or ""
    branch = ref.removeprefix("refs/heads/") if not ref.startswith("refs/tags/") else None
    return {
        "trigger": {
            "kind": str(trigger.kind),
            "actor": trigger.actor,
            "repo": trigger.repo,
            "ref": trigger.ref,
            "sha": trigger.sha,
            "event": trigger.event,
            "pull_request": trigger.pull_request,
        },
        "params": dict(parameters),
        "branch": branch or None,
    }


def _aggregate(conclusions: list[str | None]) -> str | None:
    """A matrix step's outcome over its instances, as GitHub gives `needs.<job>.result`."""
    for word in ("failure", "cancelled"):
        if word in conclusions:
            return word
    if None in conclusions:
        return None
    return "skipped" if all(c == "skipped" for c in conclusions) else "success"


def _status(
    name: str, plans: Mapping[str, StepPlan], states: Mapping[str, StepState], cancelling: bool
) -> Status:
    before = ancestors(name, lambda step: plans[step].needs)
    return Status(
        failed=any(_failed(states[a], plans[a]) for a in before),
        all_succeeded=all(satisfies(states[a], plans[a]) for a in before),
        cancelled=cancelling,
    )


def _failed(state: StepState, plan: StepPlan) -> bool:
    return state.status.unsuccessful and not plan.allow_failure


def _unmet(plan: StepPlan, plans: Mapping[str, StepPlan], states: Mapping[str, StepState]) -> str:
    for need in plan.needs:
        state = states[need]
        if satisfies(state, plans[need]):
            continue
        if state.status is StepStatus.TIMED_OUT:
            return f"{need} timed out"
        if state.status is StepStatus.FAILED:
            return f"{need} failed"
        return f"needs {need}, which was {state.status.value}"
    # Every direct need went ahead: one of theirs did not (it was skipped past them).
    return "a step it needs, indirectly, did not succeed"
