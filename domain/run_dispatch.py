"""The Run's dispatch: its ready steps queued and handed to runners as jobs, each attempt once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID, uuid5

from domain.errors import IllegalTransition, InvalidValue
from domain.limits import KEY_MAX
from domain.moments import require_aware
from domain.run_state import RunState
from domain.run_statuses import RunStatus, StepStatus
from domain.value_checks import valid_text

JOB_NAMESPACE = UUID("6f1c2a4e-8d0b-5b7e-9a31-0c4f7e2d9b15")
"""Fixed forever: changing it would give the same attempt a second job id."""
RUNNER_LOST = "runner_lost"
"""The failure reason of an attempt whose runner stopped heartbeating or was replaced."""


def job_id_for(run_id: UUID, step: str, attempt: int) -> UUID:
    """The same attempt always gets the same id, so a republished job is recognised as a copy."""
    return uuid5(JOB_NAMESPACE, f"{run_id}/{step}/{attempt}")


class DispatchCommands:
    """Mixed into Run: recording which attempts became jobs, so none is lost or sent twice."""

    def undispatched(self: RunState) -> tuple[str, ...]:
        """Queued steps whose current attempt is not a job yet, in plan order (once the run
        is cancelling, those that call always() or cancelled())."""
        if self.status not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING):
            return ()
        return tuple(
            name
            for name, state in self.steps.items()
            if state.status is StepStatus.QUEUED
            and not state.dispatched
            and self.status in self._live_for(name)
        )

    def dispatch_ready(self: RunState, labels: Mapping[str, str], *, at: datetime) -> None:
        """Queue every ready step, then record a job for each queued attempt not yet dispatched.

        `labels` names, per step, the runner label its job goes to. With nothing to do it
        decides nothing.
        """
        self._require_internal("dispatch a step of")
        require_aware(at)
        # Checked first: a refusal must come before any event is decided.
        checked = {
            step: _label(labels, step) for step in (*self.ready_steps(), *self.undispatched())
        }
        self.queue_ready(at=at)
        for step in self.undispatched():
            # A step a skip made ready in queue_ready was not known above: checked now (a
            # refusal still saves nothing, the command fails whole).
            self._dispatch(step, checked.get(step) or _label(labels, step), at)

    def dispatch_step(self: RunState, step: str, *, attempt: int, label: str, at: datetime) -> None:
        """Record that the queued attempt became a job; the same attempt again decides nothing."""
        self._require_internal("dispatch a step of")
        require_aware(at)
        state = self._step(step)
        self._require_step(state, (StepStatus.QUEUED, *_LATER), "dispatch", attempt)
        if state.dispatched:
            return
        self._require_run_in(self._live_for(step), "dispatch a step of")
        if state.status is not StepStatus.QUEUED:
            raise IllegalTransition("step", state.status.value, "dispatch")
        self._dispatch(step, _label({step: label}, step), at)

    def _dispatch(self: RunState, step: str, label: str, at: datetime) -> None:
        attempt = self.steps[step].attempt
        self.trigger_event(
            self.StepDispatched,
            step=step,
            attempt=attempt,
            label=label,
            job_id=job_id_for(self.id, step, attempt),
            timestamp=at,
        )


def _label(labels: Mapping[str, str], step: str) -> str:
    if step not in labels:
        raise InvalidValue("labels", f"no runner label for step {step!r}")
    return valid_text("label", labels[step], limit=KEY_MAX)


_LATER = (
    StepStatus.RUNNING,
    StepStatus.SUCCEEDED,
    StepStatus.FAILED,
    StepStatus.TIMED_OUT,
    StepStatus.CANCELLED,
)
