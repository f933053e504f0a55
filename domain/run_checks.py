"""The Run's own checks and bookkeeping: they raise before any event, or only assign."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec

from domain.errors import IllegalTransition, RunKindMismatch, UnknownStep
from domain.run_state import RunState
from domain.run_statuses import RUN_TRANSITIONS, RunStatus, StepStatus
from domain.run_values import StepPlan, StepState

if TYPE_CHECKING:
    from domain.run_step_events import StepEvents


class RunChecks:
    """Mixed into Run: what its commands check and what its events' `apply` assign."""

    def _why_unsuccessful(self: RunState, step: str) -> str:
        timed_out = self.steps[step].status is StepStatus.TIMED_OUT
        return f"{step} timed out" if timed_out else f"{step} failed"

    def _failed_for_good(self: RunState, step: str) -> bool:
        return self.steps[step].status.unsuccessful and not self.plan[step].allow_failure

    def _cancel_steps(
        self: RunState,
        statuses: tuple[StepStatus, ...],
        reason: str,
        at: datetime,
        *,
        spare: Callable[[StepPlan], bool] = lambda plan: False,
    ) -> None:
        for name, state in self.steps.items():
            if state.status in statuses and not spare(self.plan[name]):
                self.trigger_event(self.StepCancelled, step=name, reason=reason, timestamp=at)

    def _require_internal(self: RunState, attempted: str) -> None:
        if self.external is not None:
            raise RunKindMismatch("external", attempted)

    def _require_run(self: RunState, target: RunStatus, attempted: str) -> None:
        if target not in RUN_TRANSITIONS.get(self.status, frozenset()):
            raise IllegalTransition("run", self.status.value, attempted)

    def _require_run_in(self: RunState, statuses: tuple[RunStatus, ...], attempted: str) -> None:
        if self.status not in statuses:
            raise IllegalTransition("run", self.status.value, attempted)

    def _step(self: RunState, step: str) -> StepState:
        try:
            return self.steps[step]
        except KeyError:
            raise UnknownStep(step) from None

    def _update_step(self: RunState, step: str, **changes: object) -> None:
        self.steps[step] = msgspec.structs.replace(self.steps[step], **changes)

    def _end_attempt(
        self: RunState,
        event: StepEvents.StepSucceeded | StepEvents.StepFailed | StepEvents.StepTimedOut,
        status: StepStatus,
        reason: str | None,
        exit_code: int | None,
    ) -> None:
        self._update_step(
            event.step,
            status=status,
            exit_code=exit_code,
            reason=reason,
            finished_at=event.timestamp,
            duration_ms=event.duration_ms,
            outputs=dict(event.outputs),
            metrics=dict(event.metrics),
        )
        for key, value in event.metrics.items():
            self.metric_totals[key] = self.metric_totals.get(key, 0.0) + value

    def _finish(self: RunState, status: RunStatus, at: datetime) -> None:
        self.status = status
        self.finished_at = at
