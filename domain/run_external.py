"""The Run's status as an outside CI system reports it, walked through the legal transitions."""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from domain.errors import IllegalTransition, RunKindMismatch
from domain.moments import require_aware
from domain.run_state import RunState
from domain.run_statuses import RUN_TRANSITIONS, ExternalStatus, RunStatus
from domain.value_checks import valid_member, valid_text

_R, _C = RunStatus.RUNNING, RunStatus.CANCELLING


class ExternalCommands:
    """Mixed into Run; only external runs take these."""

    def report_external_status(
        self: RunState, status: ExternalStatus | str, *, detail: str = "", at: datetime
    ) -> None:
        """Follow the outside system: a repeated status decides nothing, a step back is refused.

        A status more than one transition ahead records the steps between (a run reported
        succeeded while queued was started first; one reported cancelled was asked to cancel).
        """
        if self.external is None:
            raise RunKindMismatch("internal", "report an external status")
        require_aware(at)
        reported = valid_member(ExternalStatus, "status", status)
        detail = valid_text("detail", detail, blank=True)
        target = RunStatus(reported.value)
        # Cancelling is still running outside; webhooks are redelivered, so repeats are normal.
        if target is self.status or (target is _R and self.status is _C):
            return
        path = _path(self.status, target)
        if path is None:
            raise IllegalTransition("run", self.status.value, f"report {reported.value} for")
        provider = self.external.provider.value
        for hop in path:
            match hop:
                case RunStatus.RUNNING:
                    self.trigger_event(self.Started, timestamp=at)
                case RunStatus.CANCELLING:
                    self.trigger_event(
                        self.CancelRequested, actor=provider, reason=detail, timestamp=at
                    )
                case RunStatus.SUCCEEDED:
                    self.trigger_event(self.Succeeded, timestamp=at)
                case RunStatus.FAILED:
                    reason = detail or f"failed in {provider}"
                    self.trigger_event(self.Failed, reason=reason, step=None, timestamp=at)
                case RunStatus.CANCELLED:
                    self.trigger_event(self.Cancelled, timestamp=at)
                case RunStatus.TIMED_OUT:
                    self.trigger_event(self.TimedOut, timestamp=at)
                case RunStatus.QUEUED:
                    raise AssertionError("no transition leads back to queued")
                case _:
                    assert_never(hop)


def _path(current: RunStatus, target: RunStatus) -> tuple[RunStatus, ...] | None:
    """The shortest legal way from `current` to `target`, at most one status in between."""
    nexts = RUN_TRANSITIONS.get(current, frozenset())
    if target in nexts:
        return (target,)
    for via in (_R, _C):
        if via in nexts and target in RUN_TRANSITIONS[via]:
            return (via, target)
    return None
