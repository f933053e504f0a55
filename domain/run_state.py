"""What the Run's command mixins need of the Run: its state, its events and its checks.

`Run` (domain.run) is built from the mixins in run_steps, run_dispatch, run_logs and
run_external, so they cannot import `Run` back without an import circle. They annotate `self`
with `RunState` instead: a protocol `Run` satisfies structurally, declared here, importing
neither side. It only describes; nothing inherits it.

Event classes may be nested in a direct base of `Run` (run_step_events, run_file_events,
run_gate_events, run_jenkins): eventsourcing redefines each on `Run` as a subclass of
`Run.Event`, and that class is the one triggered, registered and stored under its stable
`event_type` (names, not Python paths, are kept: moving a class orphans no history).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate

from domain.run_statuses import RunStatus, StepStatus
from domain.run_values import ExternalRef, StepPlan, StepState, Trigger
from domain.value_checks import ParamValue

RunEvent = type[CanMutateAggregate[UUID]]
"""One of the Run's event classes, as `trigger_event` takes it."""


class RunState(Protocol):
    """The members of `Run` its mixins use, and nothing more."""

    # The state, as Run.__init__ and the events' `apply` keep it.
    status: RunStatus
    project_id: UUID
    plan: dict[str, StepPlan]
    steps: dict[str, StepState]
    external: ExternalRef | None
    trigger: Trigger
    parameters: dict[str, ParamValue]
    concurrency: Any
    """The ConcurrencyClaim (domain.run_concurrency) or None."""
    concurrency_admitted: bool
    admitted_steps: set[str]
    log_seqs: dict[str | None, int]
    log_bytes: int
    log_truncated: bool
    metric_totals: dict[str, float]
    finished_at: datetime | None
    _failures: list[str]

    @property
    def id(self) -> UUID: ...

    # The events the mixins decide (nested in Run or in one of its direct bases). Read-only
    # members: a protocol's plain attribute would ask for a settable instance variable, which a
    # nested class is not.
    @property
    def Started(self) -> RunEvent: ...

    @property
    def Succeeded(self) -> RunEvent: ...

    @property
    def Failed(self) -> RunEvent: ...

    @property
    def TimedOut(self) -> RunEvent: ...

    @property
    def CancelRequested(self) -> RunEvent: ...

    @property
    def Cancelled(self) -> RunEvent: ...

    @property
    def StepQueued(self) -> RunEvent: ...

    @property
    def StepDispatched(self) -> RunEvent: ...

    @property
    def StepStarted(self) -> RunEvent: ...

    @property
    def StepSucceeded(self) -> RunEvent: ...

    @property
    def StepFailed(self) -> RunEvent: ...

    @property
    def StepTimedOut(self) -> RunEvent: ...

    @property
    def StepSkipped(self) -> RunEvent: ...

    @property
    def StepCancelled(self) -> RunEvent: ...

    @property
    def ApprovalRequested(self) -> RunEvent: ...

    @property
    def ApprovalDecided(self) -> RunEvent: ...

    @property
    def LogChunkAppended(self) -> RunEvent: ...

    @property
    def LogTruncated(self) -> RunEvent: ...

    @property
    def StepCheckedOut(self) -> RunEvent: ...

    @property
    def StepWaitingForRunner(self) -> RunEvent: ...

    @property
    def StepCarriedOver(self) -> RunEvent: ...

    @property
    def RunRetried(self) -> RunEvent: ...

    @property
    def ConcurrencyClaimed(self) -> RunEvent: ...

    @property
    def ConcurrencyAdmitted(self) -> RunEvent: ...

    @property
    def StepConcurrencyAdmitted(self) -> RunEvent: ...

    def trigger_event(self, event_class: RunEvent, **kwargs: Any) -> None: ...

    # Checks and helpers of Run itself (domain.run, domain.run_checks).
    def _require_internal(self, attempted: str) -> None: ...

    def _require_run(self, target: RunStatus, attempted: str) -> None: ...

    def _update_step(self, step: str, **changes: object) -> None: ...

    def _failed_for_good(self, step: str) -> bool: ...

    def _end_attempt(
        self, event: Any, status: StepStatus, reason: str | None, exit_code: int | None
    ) -> None: ...

    def _finish(self, status: RunStatus, at: datetime) -> None: ...

    def _require_run_in(self, statuses: tuple[RunStatus, ...], attempted: str) -> None: ...

    def _step(self, step: str) -> StepState: ...

    def _settle(self, at: datetime) -> None: ...

    def _why_unsuccessful(self, step: str) -> str: ...

    # The mixins' own methods, called on `self` by the same or another mixin: with `self`
    # typed as this protocol, a method is only known to them if it is declared here.
    def ready_steps(self) -> tuple[str, ...]: ...

    def queue_ready(self, *, at: datetime) -> None: ...

    def _after_unsuccessful(self, step: str, attempt: int, at: datetime) -> None: ...

    def _skip_dependants(self, step: str, at: datetime) -> None: ...

    def _skip_reason(self, step: str) -> str | None: ...

    def _live_for(self, step: str) -> tuple[RunStatus, ...]: ...

    def steps_awaiting_group(self) -> tuple[str, ...]: ...

    @staticmethod
    def _require_step(
        state: StepState,
        statuses: tuple[StepStatus, ...],
        attempted: str,
        attempt: int | None = None,
    ) -> None: ...

    def undispatched(self) -> tuple[str, ...]: ...

    def _open_step(self, step: str, at: datetime) -> None: ...

    def _require_ungated(self, step: str) -> None: ...

    def _decide(
        self,
        step: str,
        decision: str,
        principal: str,
        actor: str,
        comment: str,
        outputs: dict[str, str],
        opens: bool,
        timed_out: bool,
        at: datetime,
    ) -> None: ...

    def _dispatch(self, step: str, label: str, at: datetime) -> None: ...

    def next_log_seq(self, step: str | None = None) -> int: ...
