"""The Run's gates: approvals asked for and decided, concurrency groups claimed and admitting."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.approval_spec import Decision
from domain.run_concurrency import ConcurrencyClaim
from domain.run_state import RunState
from domain.run_statuses import StepStatus


class GateEvents:
    """Redefined on `Run` by eventsourcing, as `domain.run_step_events.StepEvents` are."""

    class ApprovalRequested(Aggregate.Event):
        """A ready step waits for people's decision until `deadline`."""

        event_type: ClassVar[str] = "ApprovalRequested"
        step: str
        project_id: UUID
        prompt: str
        approvers: tuple[str, ...]
        required: int
        environment: str | None
        deadline: datetime

        def apply(self, aggregate: RunState) -> None:
            aggregate._update_step(
                self.step,
                status=StepStatus.WAITING_FOR_APPROVAL,
                queued_at=self.timestamp,
                deadline=self.deadline,
            )

    class ApprovalDecided(Aggregate.Event):
        """`principal` (shown as `actor`) approved or rejected a waiting step's gate."""

        event_type: ClassVar[str] = "ApprovalDecided"
        step: str
        decision: Decision
        principal: str
        actor: str
        comment: str
        inputs: dict[str, str]
        timed_out: bool
        opens: bool
        group: str | None = None
        """The approver group that admitted `principal` (`group:<name>` in the approvers);
        None when the principal was listed by name, or any `approve` holder could decide."""

        def apply(self, aggregate: RunState) -> None:
            state = aggregate.steps[self.step]
            if self.decision == "approve":
                approvals = (*state.approvals, self.principal)
                aggregate._update_step(self.step, approvals=approvals)
            if self.opens and aggregate.plan[self.step].kind != "approval":
                aggregate._update_step(self.step, status=StepStatus.PENDING, approved=True)

    class ConcurrencyClaimed(Aggregate.Event):
        """The run belongs to concurrency group `key`; it waits until the group admits it."""

        event_type: ClassVar[str] = "RunConcurrencyClaimed"
        group_id: UUID
        key: str
        policy: str

        def apply(self, aggregate: RunState) -> None:
            aggregate.concurrency = ConcurrencyClaim(
                group_id=self.group_id, key=self.key, policy=self.policy
            )

    class ConcurrencyAdmitted(Aggregate.Event):
        """Its concurrency group admitted the run: its steps may be dispatched."""

        event_type: ClassVar[str] = "RunConcurrencyAdmitted"
        group_id: UUID

        def apply(self, aggregate: RunState) -> None:
            aggregate.concurrency_admitted = True

    class StepConcurrencyAdmitted(Aggregate.Event):
        """The step's own concurrency group admitted it: it may be queued."""

        event_type: ClassVar[str] = "StepConcurrencyAdmitted"
        step: str
        group_id: UUID

        def apply(self, aggregate: RunState) -> None:
            aggregate.admitted_steps.add(self.step)
