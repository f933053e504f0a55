"""Fail-fast: a matrix instance failing for good cancels its siblings that have not finished."""

from __future__ import annotations

from datetime import datetime

from domain.run_state import RunState


def cancel_siblings(run: RunState, failed: str, at: datetime) -> None:
    """Cancel the other instances of `failed`'s matrix step, with the reason; a running one
    is stopped by its runner, which watches for its step's cancellation."""
    source = run.plan[failed].instance_of
    reason = f"fail-fast: {failed} failed"
    for name, plan in run.plan.items():
        if name != failed and plan.instance_of == source and not run.steps[name].status.finished:
            run.trigger_event(run.StepCancelled, step=name, reason=reason, timestamp=at)
