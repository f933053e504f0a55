"""The Run's decisions about building software: checkouts, jobs waiting for a runner, and
what a failed-only retry carries over from the run it retries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from domain.errors import IllegalTransition, InvalidValue
from domain.limits import INT32_MAX, ITEMS_MAX, KEY_MAX, SHA_MAX
from domain.moments import require_aware
from domain.run_plan import satisfies
from domain.run_state import RunState
from domain.run_statuses import RunStatus, StepStatus
from domain.run_values import StepPlan, StepState
from domain.step_options import CHECKOUT_PATH_MAX
from domain.value_checks import valid_outputs, valid_text

NO_RUNNER = "no_runner"
_TIMEOUT_FROM = {
    "step": "the step's queue_timeout_s",
    "project": "the project's default queue timeout",
    "server": "the server's default queue timeout",
}
"""The failure reason of a step no runner started within its queue timeout."""
_Q, _R = RunStatus.QUEUED, RunStatus.RUNNING


class BuildCommands:
    """Mixed into Run."""

    def record_checkout(
        self: RunState, step: str, *, attempt: int, sha: str, duration_ms: int, path: str,
        at: datetime,
    ) -> None:  # fmt: skip
        """The running attempt checked out the run's repository at `sha`."""
        require_aware(at)
        sha = valid_text("checkout.sha", sha, limit=SHA_MAX)
        path = valid_text("checkout.path", path, blank=True, limit=CHECKOUT_PATH_MAX)
        if not 0 <= duration_ms <= INT32_MAX:
            raise InvalidValue("checkout.duration_ms", f"from 0 to {INT32_MAX}")
        state = self._step(step)
        self._require_step(state, (StepStatus.RUNNING,), "record a checkout of", attempt)
        self.trigger_event(
            self.StepCheckedOut, step=step, attempt=attempt, sha=sha,
            duration_ms=duration_ms, path=path, timestamp=at,
        )  # fmt: skip

    def flag_waiting(
        self: RunState, step: str, *, attempt: int, labels: tuple[str, ...], at: datetime
    ) -> None:
        """No live runner serves the queued attempt's labels; flagged once per attempt."""
        require_aware(at)
        if not labels or len(labels) > ITEMS_MAX:
            raise InvalidValue("labels", f"1 to {ITEMS_MAX} labels")
        labels = tuple(valid_text("labels", label, limit=KEY_MAX) for label in labels)
        state = self._step(step)
        self._require_step(state, (StepStatus.QUEUED,), "flag", attempt)
        if state.waiting_for_runner:
            return
        self.trigger_event(
            self.StepWaitingForRunner, step=step, attempt=attempt, labels=labels, timestamp=at
        )

    def expire_queued(
        self: RunState,
        step: str,
        *,
        attempt: int,
        timeout_s: int,
        at: datetime,
        timeout_from: str = "step",
    ) -> None:
        """No runner started the queued attempt within `timeout_s`: it fails `no_runner`.
        The reason names where the timeout came from (`step`, `project` or `server`).

        It is not retried (another attempt would wait for the same missing runner); what needs
        it is skipped unless it may fail, and the run settles.
        """
        require_aware(at)
        state = self._step(step)
        self._require_run_in((_Q, _R), "expire a step of")
        self._require_step(state, (StepStatus.QUEUED,), "expire", attempt)
        self.trigger_event(
            self.StepFailed, step=step, attempt=attempt, exit_code=None,
            reason=f"{NO_RUNNER}: no runner started it within {timeout_s}s "
            f"({_TIMEOUT_FROM.get(timeout_from, timeout_from)})",
            duration_ms=0, outputs={}, metrics={}, timestamp=at,
        )  # fmt: skip
        if not self.plan[step].allow_failure:
            self._skip_dependants(step, at)
        self._settle(at)

    def carry_over(
        self: RunState, retried: UUID, steps: Mapping[str, StepState], *, at: datetime
    ) -> None:
        """Steps of the run this one retries that succeeded, taken as they ended there."""
        require_aware(at)
        for name, state in steps.items():
            if self._step(name).status is not StepStatus.PENDING:
                raise IllegalTransition("step", self.steps[name].status.value, "carry over")
            self.trigger_event(
                self.StepCarriedOver, step=name, from_run=retried, attempt=state.attempt,
                outputs=valid_outputs(state.outputs), timestamp=at,
            )  # fmt: skip

    def note_retried(
        self: RunState, by: UUID, *, actor: str, failed_only: bool, at: datetime
    ) -> None:
        """A finished run was retried as run `by`."""
        require_aware(at)
        if not self.status.finished:
            raise IllegalTransition("run", self.status.value, "retry")
        self.trigger_event(
            self.RunRetried, retry=by, actor=valid_text("actor", actor, limit=KEY_MAX),
            failed_only=failed_only, timestamp=at,
        )  # fmt: skip


def carried_steps(
    plan: Mapping[str, StepPlan], states: Mapping[str, StepState]
) -> dict[str, StepState]:
    """The steps a failed-only retry keeps: succeeded, and everything they need kept too
    (a step after one that runs again runs again, since its inputs may change)."""
    kept: dict[str, StepState] = {}
    changed = True
    while changed:
        changed = False
        for name, step in plan.items():
            state = states.get(name)
            if name in kept or state is None or state.status is not StepStatus.SUCCEEDED:
                continue
            if all(need in kept and satisfies(kept[need], plan[need]) for need in step.needs):
                kept[name] = state
                changed = True
    return {name: kept[name] for name in plan if name in kept}
