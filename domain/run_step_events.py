"""The Run's step events: attempts queued, dispatched, started and ended; steps skipped."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.run_secrets import SecretUse
from domain.run_state import RunState
from domain.run_statuses import StepStatus
from domain.run_values import StepState


class StepEvents:
    """Nested in a direct base of `Run`: eventsourcing redefines each on `Run` (a subclass of
    `Run.Event`), so `Run.StepQueued` is the class that is triggered, stored and registered."""

    class StepQueued(Aggregate.Event):
        event_type: ClassVar[str] = "StepQueued"
        step: str
        attempt: int

        def apply(self, aggregate: RunState) -> None:
            aggregate.steps[self.step] = StepState(
                name=self.step,
                status=StepStatus.QUEUED,
                attempt=self.attempt,
                queued_at=self.timestamp,
            )

    class StepDispatched(Aggregate.Event):
        """The queued attempt became job `job_id` on the work queue of runners with `label`."""

        event_type: ClassVar[str] = "StepDispatched"
        step: str
        attempt: int
        label: str
        job_id: UUID

        def apply(self, aggregate: RunState) -> None:
            aggregate._update_step(self.step, dispatched=True)

    class StepStarted(Aggregate.Event):
        event_type: ClassVar[str] = "StepStarted"
        step: str
        attempt: int
        runner: str | None

        def apply(self, aggregate: RunState) -> None:
            aggregate._update_step(
                self.step,
                status=StepStatus.RUNNING,
                runner=self.runner,
                started_at=self.timestamp,
                waiting_for_runner=(),
            )

    class StepSecretsReceived(Aggregate.Event):
        """Names and versions of the project secrets an attempt received: never a value."""

        event_type: ClassVar[str] = "StepSecretsReceived"
        step: str
        attempt: int
        secrets: tuple[SecretUse, ...]
        # No `apply`: it is on record only, the step's state does not change.

    class StepSucceeded(Aggregate.Event):
        event_type: ClassVar[str] = "StepSucceeded"
        step: str
        attempt: int
        exit_code: int
        duration_ms: int
        outputs: dict[str, str]
        metrics: dict[str, float]

        def apply(self, aggregate: RunState) -> None:
            aggregate._end_attempt(self, StepStatus.SUCCEEDED, None, self.exit_code)

    class StepFailed(Aggregate.Event):
        event_type: ClassVar[str] = "StepFailed"
        step: str
        attempt: int
        exit_code: int | None
        reason: str
        duration_ms: int
        outputs: dict[str, str]
        metrics: dict[str, float]

        def apply(self, aggregate: RunState) -> None:
            aggregate._end_attempt(self, StepStatus.FAILED, self.reason, self.exit_code)
            aggregate._failures.append(self.step)

    class StepTimedOut(Aggregate.Event):
        """A running attempt outlived the step's `timeout_s`; its runner stopped it."""

        event_type: ClassVar[str] = "StepTimedOut"
        step: str
        attempt: int
        timeout_s: int
        duration_ms: int
        outputs: dict[str, str]
        metrics: dict[str, float]

        def apply(self, aggregate: RunState) -> None:
            reason = f"timed out after {self.timeout_s}s"
            aggregate._end_attempt(self, StepStatus.TIMED_OUT, reason, None)
            aggregate._failures.append(self.step)

    class StepSkipped(Aggregate.Event):
        event_type: ClassVar[str] = "StepSkipped"
        step: str
        reason: str

        def apply(self, aggregate: RunState) -> None:
            aggregate._update_step(
                self.step, status=StepStatus.SKIPPED, reason=self.reason, finished_at=self.timestamp
            )

    class StepCancelled(Aggregate.Event):
        event_type: ClassVar[str] = "StepCancelled"
        step: str
        reason: str

        def apply(self, aggregate: RunState) -> None:
            aggregate._update_step(
                self.step,
                status=StepStatus.CANCELLED,
                reason=self.reason,
                finished_at=self.timestamp,
            )

    class StepWaitingForRunner(Aggregate.Event):
        """When it was queued, no registered, live runner served the attempt's labels."""

        event_type: ClassVar[str] = "StepWaitingForRunner"
        step: str
        attempt: int
        labels: tuple[str, ...]

        def apply(self, aggregate: RunState) -> None:
            aggregate._update_step(self.step, waiting_for_runner=tuple(self.labels))

    class StepCarriedOver(Aggregate.Event):
        """A failed-only retry took this step as it succeeded in run `from_run`: not run again."""

        event_type: ClassVar[str] = "StepCarriedOver"
        step: str
        from_run: UUID
        attempt: int
        outputs: dict[str, str]

        def apply(self, aggregate: RunState) -> None:
            aggregate._update_step(
                self.step,
                status=StepStatus.SUCCEEDED,
                attempt=self.attempt,
                finished_at=self.timestamp,
                outputs=dict(self.outputs),
                carried_from=self.from_run,
            )
