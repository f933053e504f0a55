"""The Run aggregate: one execution of a pinned pipeline version, its steps, logs and outcome."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.limits import KEY_MAX
from domain.moments import require_aware
from domain.run_approvals import ApprovalCommands
from domain.run_artifacts import ArtifactCommands, StoredArtifact
from domain.run_build import BuildCommands
from domain.run_checks import RunChecks
from domain.run_concurrency import ConcurrencyClaim, ConcurrencyCommands
from domain.run_conditions import runs_when_cancelled
from domain.run_dispatch import DispatchCommands
from domain.run_external import ExternalCommands
from domain.run_file_events import FileEvents
from domain.run_gate_events import GateEvents
from domain.run_jenkins import JenkinsCommands
from domain.run_logs import LogCommands
from domain.run_plan import valid_plan
from domain.run_secrets import SecretCommands
from domain.run_statuses import RunStatus, StepStatus
from domain.run_step_events import StepEvents
from domain.run_steps import StepCommands
from domain.run_values import (
    ExternalRef,
    StepPlan,
    StepState,
    Trigger,
    valid_external,
    valid_trigger,
)
from domain.value_checks import ParamValue, valid_parameters, valid_text

_R, _C = RunStatus.RUNNING, RunStatus.CANCELLING


class Run(
    StepEvents,
    FileEvents,
    GateEvents,
    RunChecks,
    StepCommands,
    DispatchCommands,
    LogCommands,
    ExternalCommands,
    ApprovalCommands,
    SecretCommands,
    BuildCommands,
    ArtifactCommands,
    ConcurrencyCommands,
    JenkinsCommands,
    Aggregate,
):
    """Requested with its own step plan; its steps are queued, run, retried; it ends once.

    - Run: queued -> running -> succeeded | failed | timed_out; queued or running ->
      cancelling -> cancelled. Starting a step of a queued run starts the run first.
    - Steps: pending -> queued -> running -> succeeded | failed | timed_out; pending ->
      skipped; pending, queued or running -> cancelled. A step is ready when each step it
      needs succeeded, or failed or timed out with `allow_failure`. A failed or timed-out
      attempt with attempts left queues the next attempt at once; a final one without
      `allow_failure` skips every step that depends on it, and the run goes on with the
      steps that do not.
    - The run settles by itself: the command that finishes its last step also decides
      succeeded (no step failed or timed out without `allow_failure`), failed (naming the
      first such step) or, when cancelling, cancelled. Every step is finished before the run is.
    - Cancelling cancels the steps not yet running; running ones are stopped by their runner,
      which reports them cancelled (or their real outcome); a second request decides nothing.
      Timing out cancels every unfinished step.
    - Logs: one sequence per channel (the run's own, step None, and one per step, across
      attempts), starting at 1. A repeated chunk decides nothing; a gap is refused. Past
      LOG_RUN_MAX bytes one LogTruncated is recorded and later chunks are dropped.
    - An external run has no steps: its status comes from `report_external_status`.
    - Gates (approval steps, protected environments): see `domain.run_approvals`.
    """

    stream_type = "run"

    class Event(Aggregate.Event):
        pass

    class Requested(Event, Aggregate.Created):
        event_type: ClassVar[str] = "RunRequested"
        project_id: UUID
        pipeline_id: UUID
        pipeline_version: int
        trigger: Trigger
        parameters: dict[str, ParamValue]
        steps: tuple[StepPlan, ...]
        retry_of: UUID | None
        external: ExternalRef | None

    class Started(Event):
        event_type: ClassVar[str] = "RunStarted"

        def apply(self, aggregate: Run) -> None:
            aggregate.status = RunStatus.RUNNING
            aggregate.started_at = self.timestamp

    class Succeeded(Event):
        event_type: ClassVar[str] = "RunSucceeded"

        def apply(self, aggregate: Run) -> None:
            aggregate._finish(RunStatus.SUCCEEDED, self.timestamp)

    class Failed(Event):
        event_type: ClassVar[str] = "RunFailed"
        reason: str
        step: str | None

        def apply(self, aggregate: Run) -> None:
            aggregate._finish(RunStatus.FAILED, self.timestamp)
            aggregate.failure = self.reason

    class TimedOut(Event):
        event_type: ClassVar[str] = "RunTimedOut"

        def apply(self, aggregate: Run) -> None:
            aggregate._finish(RunStatus.TIMED_OUT, self.timestamp)

    class CancelRequested(Event):
        event_type: ClassVar[str] = "RunCancelRequested"
        actor: str
        reason: str

        def apply(self, aggregate: Run) -> None:
            aggregate.status = RunStatus.CANCELLING
            aggregate.cancel_requested_by = self.actor

    class Cancelled(Event):
        event_type: ClassVar[str] = "RunCancelled"

        def apply(self, aggregate: Run) -> None:
            aggregate._finish(RunStatus.CANCELLED, self.timestamp)

    class RunRetried(Event):
        """This finished run was retried as run `retry` (the new run names it in `retry_of`)."""

        event_type: ClassVar[str] = "RunRetried"
        retry: UUID
        actor: str
        failed_only: bool

        def apply(self, aggregate: Run) -> None:
            aggregate.retried_by.append(self.retry)

    def __init__(
        self,
        project_id: UUID,
        pipeline_id: UUID,
        pipeline_version: int,
        trigger: Trigger,
        parameters: dict[str, ParamValue],
        steps: tuple[StepPlan, ...],
        retry_of: UUID | None,
        external: ExternalRef | None,
    ) -> None:
        # Runs for `Requested`, on creation and on every replay: assignments only.
        self.project_id = project_id
        self.pipeline_id = pipeline_id
        self.pipeline_version = pipeline_version
        self.trigger = trigger
        self.parameters = dict(parameters)
        self.plan: dict[str, StepPlan] = {s.name: s for s in steps}
        self.retry_of = retry_of
        self.external = external
        self.status = RunStatus.QUEUED
        self.steps: dict[str, StepState] = {s.name: StepState(name=s.name) for s in steps}
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.failure: str | None = None
        self.cancel_requested_by: str | None = None
        # Summed over every attempt of every step: a failed attempt's tokens were spent too.
        self.metric_totals: dict[str, float] = {}
        self.log_seqs: dict[str | None, int] = {}
        self.log_bytes = 0
        self.log_truncated = False
        self._failures: list[str] = []
        self.retried_by: list[UUID] = []
        self.artifacts: dict[tuple[str, str], StoredArtifact] = {}
        self.cache_records = 0
        self.concurrency: ConcurrencyClaim | None = None
        self.concurrency_admitted = False
        self.admitted_steps: set[str] = set()

    @classmethod
    def request(
        cls,
        *,
        id: UUID,
        project_id: UUID,
        pipeline_id: UUID,
        pipeline_version: int,
        trigger: Trigger,
        parameters: dict[str, ParamValue],
        steps: tuple[StepPlan, ...],
        retry_of: UUID | None = None,
        external: ExternalRef | None = None,
        at: datetime,
    ) -> Run:
        """A new queued run; a retry is a new run with a `retry` trigger and `retry_of` set."""
        require_aware(at)
        if pipeline_version < 1:
            raise InvalidValue("pipeline_version", "must be >= 1")
        if retry_of == id:
            raise InvalidValue("retry_of", "a run cannot retry itself")
        trigger = valid_trigger(trigger, retry_of)
        plan = valid_plan(steps)
        if external is not None:
            external = valid_external(external)
            if plan:
                raise InvalidValue("steps", "an external run has no steps of its own")
        elif not plan:
            raise InvalidValue("steps", "a run needs at least one step")
        return cls._create(
            cls.Requested,
            id=id,
            timestamp=at,
            project_id=project_id,
            pipeline_id=pipeline_id,
            pipeline_version=pipeline_version,
            trigger=trigger,
            parameters=valid_parameters(parameters),
            steps=plan,
            retry_of=retry_of,
            external=external,
        )

    # Commands on the run

    def start(self, *, at: datetime) -> None:
        self._require_internal("start")
        require_aware(at)
        self._require_run(_R, "start")
        self.trigger_event(self.Started, timestamp=at)

    def request_cancel(self, *, actor: str, reason: str = "", at: datetime) -> None:
        """Ask the run to stop; on a run already cancelling this decides nothing.

        An external run stays cancelling until its provider reports how it ended.
        """
        require_aware(at)
        actor = valid_text("actor", actor, limit=KEY_MAX)
        reason = valid_text("reason", reason, blank=True)
        if self.status is _C:
            return
        self._require_run(_C, "cancel")
        self.trigger_event(self.CancelRequested, actor=actor, reason=reason, timestamp=at)
        if self.external is None:
            waiting = (StepStatus.PENDING, StepStatus.QUEUED, StepStatus.WAITING_FOR_APPROVAL)
            # As GitHub does: a step calling always() or cancelled() is still decided.
            self._cancel_steps(waiting, "run cancelled", at, spare=runs_when_cancelled)
            self._settle(at)

    def time_out(self, *, at: datetime) -> None:
        require_aware(at)
        self._require_run(RunStatus.TIMED_OUT, "time out")
        unfinished = (StepStatus.PENDING, StepStatus.QUEUED, StepStatus.RUNNING)
        self._cancel_steps((*unfinished, StepStatus.WAITING_FOR_APPROVAL), "run timed out", at)
        self.trigger_event(self.TimedOut, timestamp=at)

    # Helpers: checks raise before any event; appliers only assign.

    def _settle(self, at: datetime) -> None:
        if not all(s.status.finished for s in self.steps.values()):
            return
        if self.status is _C:
            self.trigger_event(self.Cancelled, timestamp=at)
            return
        hard = [f for f in self._failures if self._failed_for_good(f)]
        if hard:
            reason = self._why_unsuccessful(hard[0])
            self.trigger_event(self.Failed, reason=reason, step=hard[0], timestamp=at)
        else:
            self.trigger_event(self.Succeeded, timestamp=at)


STEP_ENDS = frozenset(
    e.event_type
    for e in (
        Run.StepSucceeded,
        Run.StepFailed,
        Run.StepTimedOut,
        Run.StepSkipped,
        Run.StepCancelled,
    )
)
"""The events that end a step's attempt (or the step, if it never ran)."""
RUN_ENDS = frozenset(e.event_type for e in (Run.Succeeded, Run.Failed, Run.Cancelled, Run.TimedOut))
"""The events that end a run."""
