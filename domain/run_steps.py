"""The Run's commands on its steps: queue, start, succeed, fail or time out (and retry), cancel."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.errors import (
    AttemptAlreadyStarted,
    AttemptMismatch,
    IllegalTransition,
    InvalidValue,
    StepNotReady,
)
from domain.limits import KEY_MAX
from domain.moments import require_aware
from domain.run_conditions import decidable, judge, runs_when_cancelled, waits_for_outcomes
from domain.run_matrix import cancel_siblings
from domain.run_plan import dependants
from domain.run_state import RunState
from domain.run_statuses import RunStatus, StepStatus
from domain.run_values import StepState
from domain.value_checks import valid_metrics, valid_outputs, valid_text

EXIT_CODE_LIMIT = 255
_Q, _R, _C = RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING


class StepCommands:
    """Mixed into Run; only steps of internal runs are driven here."""

    def ready_steps(self: RunState) -> tuple[str, ...]:
        """Pending steps whose needs have all finished, in plan order (once cancelling, only
        those calling `always()` or `cancelled()`): each is queued or, when its condition is
        false, skipped (`domain/run_conditions`)."""
        if self.status is _C and self.external is None:
            found = decidable(self.plan, self.steps)
            return tuple(step for step in found if runs_when_cancelled(self.plan[step]))
        if self.status not in (_Q, _R):
            return ()
        if self.concurrency is not None and not self.concurrency_admitted:
            return ()  # its concurrency group has not admitted it yet
        awaiting = self.steps_awaiting_group()
        return tuple(step for step in decidable(self.plan, self.steps) if step not in awaiting)

    def queue_step(self: RunState, step: str, *, at: datetime) -> None:
        """Queue a pending step's first attempt; retries are queued when an attempt fails."""
        self._require_internal("queue a step of")
        require_aware(at)
        state = self._step(step)
        self._require_run_in(self._live_for(step), "queue a step of")
        self._require_step(state, (StepStatus.PENDING,), "queue")
        if self.concurrency is not None and not self.concurrency_admitted:
            raise IllegalTransition("run", "waiting for its concurrency group", "queue a step of")
        needs = self.plan[step].needs
        if waiting := tuple(n for n in needs if not self.steps[n].status.finished):
            raise StepNotReady(step, waiting)
        if reason := self._skip_reason(step):
            raise IllegalTransition("step", "pending", f"queue ({reason})")
        if self.plan[step].group_key and step not in self.admitted_steps:
            raise IllegalTransition("step", "waiting for its concurrency group", "queue")
        self._require_ungated(step)
        self.trigger_event(self.StepQueued, step=step, attempt=1, timestamp=at)

    def queue_ready(self: RunState, *, at: datetime) -> None:
        """Queue every ready step's first attempt (through its gate), or skip it when its
        condition is false; none ready decides nothing."""
        self._require_internal("queue a step of")
        require_aware(at)
        settle = False
        while ready := self.ready_steps():
            for step in ready:
                if reason := self._skip_reason(step):
                    if self.status is _Q:
                        self.trigger_event(self.Started, timestamp=at)
                    self.trigger_event(self.StepSkipped, step=step, reason=reason, timestamp=at)
                    settle = True
                else:
                    self._open_step(step, at)  # refused, waiting for approval, or queued
                    settle = settle or bool(self.plan[step].refused)
        if settle:
            self._settle(at)

    def _live_for(self: RunState, step: str) -> tuple[RunStatus, ...]:
        """The run statuses in which `step` may still be queued and started."""
        return (_Q, _R, _C) if runs_when_cancelled(self.plan[step]) else (_Q, _R)

    def _skip_reason(self: RunState, step: str) -> str | None:
        return judge(
            step,
            self.plan,
            self.steps,
            trigger=self.trigger,
            parameters=self.parameters,
            cancelling=self.status is _C,
        )

    def start_step(
        self: RunState, step: str, *, attempt: int, runner: str | None = None, at: datetime
    ) -> None:
        """A runner starts a queued attempt; starting it twice is refused, so one runner runs it."""
        self._require_internal("start a step of")
        require_aware(at)
        if runner is not None:
            runner = valid_text("runner", runner, limit=KEY_MAX)
        state = self._step(step)
        self._require_run_in(self._live_for(step), "start a step of")
        if state.status is StepStatus.RUNNING and attempt == state.attempt:
            if runner is not None and runner == state.runner:
                return  # the same runner said it again: already so
            raise AttemptAlreadyStarted(step, attempt, state.runner)
        # Queued implies its needs were met, and a met need stays met: no second check.
        self._require_step(state, (StepStatus.QUEUED,), "start", attempt)
        if self.status is _Q:
            self.trigger_event(self.Started, timestamp=at)
        self.trigger_event(
            self.StepStarted, step=step, attempt=attempt, runner=runner, timestamp=at
        )

    def succeed_step(
        self: RunState,
        step: str,
        *,
        attempt: int,
        exit_code: int = 0,
        outputs: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        at: datetime,
    ) -> None:
        self._require_internal("finish a step of")
        require_aware(at)
        if exit_code != 0:
            raise InvalidValue("exit_code", "a step that succeeded exited with 0")
        outputs, metrics = valid_outputs(outputs), valid_metrics(metrics)
        state = self._step(step)
        self._require_run_in((_R, _C), "finish a step of")
        self._require_step(state, (StepStatus.RUNNING,), "succeed", attempt)
        self.trigger_event(
            self.StepSucceeded,
            step=step,
            attempt=attempt,
            exit_code=exit_code,
            duration_ms=_duration_ms(state, at),
            outputs=outputs,
            metrics=metrics,
            timestamp=at,
        )
        self._settle(at)

    def fail_step(
        self: RunState,
        step: str,
        *,
        attempt: int,
        reason: str,
        exit_code: int | None = None,
        outputs: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        at: datetime,
    ) -> None:
        """A running attempt failed; `exit_code` is None when the process never exited by itself."""
        self._require_internal("finish a step of")
        require_aware(at)
        reason = valid_text("reason", reason)
        if exit_code is not None and not -EXIT_CODE_LIMIT <= exit_code <= EXIT_CODE_LIMIT:
            raise InvalidValue("exit_code", f"between -{EXIT_CODE_LIMIT} and {EXIT_CODE_LIMIT}")
        outputs, metrics = valid_outputs(outputs), valid_metrics(metrics)
        state = self._step(step)
        self._require_run_in((_R, _C), "finish a step of")
        self._require_step(state, (StepStatus.RUNNING,), "fail", attempt)
        self.trigger_event(
            self.StepFailed,
            step=step,
            attempt=attempt,
            exit_code=exit_code,
            reason=reason,
            duration_ms=_duration_ms(state, at),
            outputs=outputs,
            metrics=metrics,
            timestamp=at,
        )
        self._after_unsuccessful(step, attempt, at)

    def time_out_step(
        self: RunState,
        step: str,
        *,
        attempt: int,
        outputs: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        at: datetime,
    ) -> None:
        """A running attempt outlived the step's timeout and its runner stopped it.

        It counts as a failure: retried while attempts are left, then failing the run
        unless the step may fail.
        """
        self._require_internal("finish a step of")
        require_aware(at)
        outputs, metrics = valid_outputs(outputs), valid_metrics(metrics)
        state = self._step(step)
        self._require_run_in((_R, _C), "finish a step of")
        self._require_step(state, (StepStatus.RUNNING,), "time out", attempt)
        self.trigger_event(
            self.StepTimedOut,
            step=step,
            attempt=attempt,
            timeout_s=self.plan[step].timeout_s,
            duration_ms=_duration_ms(state, at),
            outputs=outputs,
            metrics=metrics,
            timestamp=at,
        )
        self._after_unsuccessful(step, attempt, at)

    def cancel_step(self: RunState, step: str, *, attempt: int, reason: str, at: datetime) -> None:
        """A runner stopped a running attempt because its run is being cancelled."""
        self._require_internal("cancel a step of")
        require_aware(at)
        reason = valid_text("reason", reason)
        state = self._step(step)
        self._require_run_in((_C,), "cancel a step of")
        self._require_step(state, (StepStatus.RUNNING,), "cancel", attempt)
        self.trigger_event(self.StepCancelled, step=step, reason=reason, timestamp=at)
        self._settle(at)

    def _after_unsuccessful(self: RunState, step: str, attempt: int, at: datetime) -> None:
        plan = self.plan[step]
        # A run being cancelled neither retries nor skips: its pending steps are cancelled.
        if self.status is not _C:
            if attempt < plan.max_attempts:
                self.trigger_event(self.StepQueued, step=step, attempt=attempt + 1, timestamp=at)
                return
            if not plan.allow_failure:
                self._skip_dependants(step, at)
                if plan.fail_fast:
                    cancel_siblings(self, step, at)
        self._settle(at)

    def _skip_dependants(self: RunState, step: str, at: datetime) -> None:
        for blocked in dependants(step, self.plan):
            # A condition reading how its needs ended (always(), failure()) decides later.
            if waits_for_outcomes(self.plan[blocked]):
                continue
            if self.steps[blocked].status is StepStatus.PENDING:
                self.trigger_event(
                    self.StepSkipped,
                    step=blocked,
                    reason=self._why_unsuccessful(step),
                    timestamp=at,
                )

    @staticmethod
    def _require_step(
        state: StepState,
        statuses: tuple[StepStatus, ...],
        attempted: str,
        attempt: int | None = None,
    ) -> None:
        # A stale runner learns it is stale, whatever its old attempt became since.
        if attempt is not None and state.attempt and attempt != state.attempt:
            raise AttemptMismatch(state.name, state.attempt, attempt)
        if state.status not in statuses:
            raise IllegalTransition("step", state.status.value, attempted)


def _duration_ms(state: StepState, at: datetime) -> int:
    assert state.started_at is not None
    # Clocks of the nodes that record start and end may disagree a little: never negative.
    return max(0, (at - state.started_at) // timedelta(milliseconds=1))
