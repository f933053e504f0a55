"""The statuses a run and its steps move through, and what kinds of trigger and provider exist."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    WAITING_FOR_APPROVAL = "waiting_for_approval"
    """Shown by the runs view while a step waits for a decision; the aggregate stays running."""

    @property
    def finished(self) -> bool:
        return self in _RUN_FINISHED


_RUN_FINISHED = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT}
)


class StepStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    WAITING_FOR_APPROVAL = "waiting_for_approval"

    @property
    def finished(self) -> bool:
        return self in _STEP_FINISHED

    @property
    def unsuccessful(self) -> bool:
        """Ended by its own fault: it failed or ran out of time (a skip or cancel is not)."""
        return self in _STEP_UNSUCCESSFUL


_STEP_UNSUCCESSFUL = frozenset({StepStatus.FAILED, StepStatus.TIMED_OUT})
_STEP_FINISHED = _STEP_UNSUCCESSFUL | {
    StepStatus.SUCCEEDED,
    StepStatus.SKIPPED,
    StepStatus.CANCELLED,
}


class TriggerKind(StrEnum):
    MANUAL = "manual"
    API = "api"
    WEBHOOK = "webhook"
    RETRY = "retry"
    SCHEDULE = "schedule"


class Provider(StrEnum):
    GITHUB_ACTIONS = "github_actions"
    GITLAB = "gitlab"
    JENKINS = "jenkins"


class ExternalStatus(StrEnum):
    """A status an outside system reports for a run it executes."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


_Q, _R, _C = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    _Q: frozenset({_R, _C, RunStatus.TIMED_OUT}),
    _R: frozenset({_C, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT}),
    # A cancel request can lose the race: an external run may still report its real outcome.
    _C: frozenset(
        {RunStatus.CANCELLED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT}
    ),
}
"""Where a run may go from each unfinished status; a finished run goes nowhere."""
