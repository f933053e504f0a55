"""Facts and histories for the Run specs: a run's past, written as the events it recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from specs import Fact, Spec

from domain.project import Project
from domain.registry import Registry
from domain.run import Run
from domain.run_statuses import Provider, TriggerKind
from domain.run_values import ExternalRef, StepPlan, Trigger

RUN_ID = UUID("0195f1d0-0000-7000-8000-0000000000a1")
OLD_RUN_ID = UUID("0195f1d0-0000-7000-8000-0000000000a0")
PROJECT_ID = UUID("0195f1d0-0000-7000-8000-000000000001")
PIPELINE_ID = UUID("0195f1d0-0000-7000-8000-0000000000b1")
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
REGISTRY = Registry(Project, Run)
MANUAL = Trigger(kind=TriggerKind.MANUAL, actor="ann")
GITHUB = ExternalRef(
    provider=Provider.GITHUB_ACTIONS,
    external_id="123456",
    url="https://github.com/acme/web/actions/runs/123456",
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def plan(name: str, *needs: str, retries: int = 0, allow_failure: bool = False) -> StepPlan:
    return StepPlan(
        name=name, needs=needs, retries=retries, timeout_s=600, allow_failure=allow_failure
    )


BUILD_TEST = (plan("build"), plan("test", "build"))


def spec() -> Spec[Run]:
    return Spec(Run, RUN_ID, registry=REGISTRY)


def requested(
    *steps: StepPlan,
    trigger: Trigger = MANUAL,
    parameters: dict[str, Any] | None = None,
    retry_of: UUID | None = None,
    external: ExternalRef | None = None,
) -> Fact:
    return (
        "RunRequested",
        {
            "project_id": PROJECT_ID,
            "pipeline_id": PIPELINE_ID,
            "pipeline_version": 3,
            "trigger": trigger,
            "parameters": parameters or {},
            "steps": steps,
            "retry_of": retry_of,
            "external": external,
            "occurred_at": T0,
        },
    )


def request(**overrides: Any):
    """The command that records `requested(*BUILD_TEST)`, with any argument overridden."""
    args = {
        "id": RUN_ID,
        "project_id": PROJECT_ID,
        "pipeline_id": PIPELINE_ID,
        "pipeline_version": 3,
        "trigger": MANUAL,
        "parameters": {},
        "steps": BUILD_TEST,
        "at": T0,
    } | overrides
    return lambda _: Run.request(**args)


def run_event(name: str, t: float, **data: Any) -> Fact:
    return (name, {**data, "occurred_at": at(t)})


def queued(step: str, t: float, attempt: int = 1) -> Fact:
    return run_event("StepQueued", t, step=step, attempt=attempt)


def started(step: str, t: float, attempt: int = 1, runner: str | None = "r1") -> Fact:
    return run_event("StepStarted", t, step=step, attempt=attempt, runner=runner)


def succeeded(step: str, t: float, attempt: int = 1, duration_ms: int = 1000, **extra: Any) -> Fact:
    data = {"exit_code": 0, "outputs": {}, "metrics": {}} | extra
    return run_event(
        "StepSucceeded", t, step=step, attempt=attempt, duration_ms=duration_ms, **data
    )


def failed(step: str, t: float, attempt: int = 1, duration_ms: int = 1000, **extra: Any) -> Fact:
    data = {"exit_code": 1, "reason": "exit status 1", "outputs": {}, "metrics": {}} | extra
    return run_event("StepFailed", t, step=step, attempt=attempt, duration_ms=duration_ms, **data)


def timed_out(step: str, t: float, attempt: int = 1, duration_ms: int = 1000, **extra: Any) -> Fact:
    data = {"timeout_s": 600, "outputs": {}, "metrics": {}} | extra
    return run_event("StepTimedOut", t, step=step, attempt=attempt, duration_ms=duration_ms, **data)


def step_ran(step: str, t: float, outcome: str = "succeeded", attempt: int = 1) -> list[Fact]:
    """Queued at t, started at t+1, finished at t+2 (1000 ms)."""
    end = succeeded if outcome == "succeeded" else failed
    return [queued(step, t, attempt), started(step, t + 1, attempt), end(step, t + 2, attempt)]


RUN_STARTED = run_event("RunStarted", 2)
# A run of BUILD_TEST whose build is running (queued at 1, started at 2).
BUILD_RUNNING = [requested(*BUILD_TEST), queued("build", 1), RUN_STARTED, started("build", 2)]
CANCEL_REQUESTED = run_event("RunCancelRequested", 5, actor="bob", reason="")

# One history per run status, each with BUILD_TEST as its plan.
RUN_IN: dict[str, list[Fact]] = {
    "queued": [requested(*BUILD_TEST)],
    "running": BUILD_RUNNING,
    "cancelling": [
        *BUILD_RUNNING,
        CANCEL_REQUESTED,
        run_event("StepCancelled", 5, step="test", reason="run cancelled"),
    ],
    "succeeded": [
        *BUILD_RUNNING,
        succeeded("build", 3),
        *step_ran("test", 4)[:2],
        succeeded("test", 6),
        run_event("RunSucceeded", 6),
    ],
    "failed": [
        *BUILD_RUNNING,
        failed("build", 3),
        run_event("StepSkipped", 3, step="test", reason="build failed"),
        run_event("RunFailed", 3, reason="build failed", step="build"),
    ],
    "cancelled": [
        requested(*BUILD_TEST),
        run_event("RunCancelRequested", 1, actor="bob", reason=""),
        run_event("StepCancelled", 1, step="build", reason="run cancelled"),
        run_event("StepCancelled", 1, step="test", reason="run cancelled"),
        run_event("RunCancelled", 1),
    ],
    "timed_out": [
        *BUILD_RUNNING,
        run_event("StepCancelled", 9, step="build", reason="run timed out"),
        run_event("StepCancelled", 9, step="test", reason="run timed out"),
        run_event("RunTimedOut", 9),
    ],
}
FINISHED = ("succeeded", "failed", "cancelled", "timed_out")
