"""The Run's side of a concurrency group: which group it claimed, and whether it was admitted.

A run of a pipeline with `concurrency` claims its group when it is requested; its steps are
dispatched only once the group admitted it (`domain/concurrency_group.py` decides that).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.concurrency_spec import ConcurrencyPolicy
from domain.errors import IllegalTransition
from domain.moments import require_aware
from domain.run_conditions import decidable
from domain.run_state import RunState
from domain.run_statuses import RunStatus


class ConcurrencyClaim(msgspec.Struct, frozen=True, kw_only=True):
    group_id: UUID
    key: str
    policy: ConcurrencyPolicy


class ConcurrencyCommands:
    """Mixed into Run."""

    def claim_concurrency(
        self: RunState, group_id: UUID, key: str, policy: ConcurrencyPolicy, *, at: datetime
    ) -> None:
        """Record the group the new run belongs to (once, before anything else happens)."""
        require_aware(at)
        if self.concurrency is not None:
            raise IllegalTransition("run", "in a concurrency group", "claim a group for")
        self.trigger_event(
            self.ConcurrencyClaimed, group_id=group_id, key=key, policy=policy, timestamp=at
        )

    @property
    def waits_for_group(self: RunState) -> bool:
        """It claimed a group that has not admitted it yet: none of its steps may be queued."""
        return self.concurrency is not None and not self.concurrency_admitted

    def steps_awaiting_group(self: RunState) -> tuple[str, ...]:
        """Steps due to run now whose own concurrency group has not admitted them yet."""
        if self.status not in (RunStatus.QUEUED, RunStatus.RUNNING) or (
            self.concurrency is not None and not self.concurrency_admitted
        ):
            return ()
        return tuple(
            step
            for step in decidable(self.plan, self.steps)
            if self.plan[step].group_key
            and step not in self.admitted_steps
            and self._skip_reason(step) is None
        )

    def admit_step(self: RunState, step: str, group_id: UUID, *, at: datetime) -> None:
        """The step's group admitted it: it may be queued. Saying so again decides nothing."""
        require_aware(at)
        if not self.plan[step].group_key:
            raise IllegalTransition("step", "in no concurrency group", "admit")
        if step not in self.admitted_steps:
            self.trigger_event(
                self.StepConcurrencyAdmitted, step=step, group_id=group_id, timestamp=at
            )

    def admit_concurrency(self: RunState, *, at: datetime) -> None:
        """Its group admitted it; saying so again decides nothing."""
        require_aware(at)
        if self.concurrency is None:
            raise IllegalTransition("run", "in no concurrency group", "admit")
        if not self.concurrency_admitted:
            self.trigger_event(
                self.ConcurrencyAdmitted, group_id=self.concurrency.group_id, timestamp=at
            )
