"""The Run aggregate: one execution of a pinned pipeline version, its steps, logs and outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.approval_spec import Decision
from domain.errors import IllegalTransition, InvalidValue, RunKindMismatch, UnknownStep
from domain.moments import require_aware
from domain.run_approvals import ApprovalCommands
from domain.run_artifacts import ArtifactCommands, StoredArtifact
from domain.run_build import BuildCommands
from domain.run_concurrency import ConcurrencyClaim, ConcurrencyCommands
from domain.run_dispatch import DispatchCommands
from domain.run_external import ExternalCommands
from domain.run_logs import LogCommands
from domain.run_plan import valid_plan
from domain.run_secrets import SecretCommands, SecretUse
from domain.run_steps import StepCommands
from domain.run_values import (
    KEY_MAX,
    RUN_TRANSITIONS,
    ExternalRef,
    LogStream,
    ParamValue,
    RunStatus,
    StepPlan,
    StepState,
    StepStatus,
    Trigger,
    valid_external,
    valid_parameters,
    valid_text,
    valid_trigger,
)

_R, _C = RunStatus.RUNNING, RunStatus.CANCELLING


class Run(
    StepCommands,
    DispatchCommands,
    LogCommands,
    ExternalCommands,
    ApprovalCommands,
    SecretCommands,
    BuildCommands,
    ArtifactCommands,
    ConcurrencyCommands,
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

    class StepQueued(Event):
        event_type: ClassVar[str] = "StepQueued"
        step: str
        attempt: int

        def apply(self, aggregate: Run) -> None:
            aggregate.steps[self.step] = StepState(
                name=self.step,
                status=StepStatus.QUEUED,
                attempt=self.attempt,
                queued_at=self.timestamp,
            )

    class StepDispatched(Event):
        """The queued attempt became job `job_id` on the work queue of runners with `label`."""

        event_type: ClassVar[str] = "StepDispatched"
        step: str
        attempt: int
        label: str
        job_id: UUID

        def apply(self, aggregate: Run) -> None:
            aggregate._update_step(self.step, dispatched=True)

    class StepStarted(Event):
        event_type: ClassVar[str] = "StepStarted"
        step: str
        attempt: int
        runner: str | None

        def apply(self, aggregate: Run) -> None:
            aggregate._update_step(
                self.step,
                status=StepStatus.RUNNING,
                runner=self.runner,
                started_at=self.timestamp,
                waiting_for_runner=(),
            )

    class StepSecretsReceived(Event):
        """Names and versions of the project secrets an attempt received: never a value."""

        event_type: ClassVar[str] = "StepSecretsReceived"
        step: str
        attempt: int
        secrets: tuple[SecretUse, ...]
        # No `apply`: it is on record only, the step's state does not change.

    class StepSucceeded(Event):
        event_type: ClassVar[str] = "StepSucceeded"
        step: str
        attempt: int
        exit_code: int
        duration_ms: int
        outputs: dict[str, str]
        metrics: dict[str, float]

        def apply(self, aggregate: Run) -> None:
            aggregate._end_attempt(self, StepStatus.SUCCEEDED, None, self.exit_code)

    class StepFailed(Event):
        event_type: ClassVar[str] = "StepFailed"
        step: str
        attempt: int
        exit_code: int | None
        reason: str
        duration_ms: int
        outputs: dict[str, str]
        metrics: dict[str, float]

        def apply(self, aggregate: Run) -> None:
            aggregate._end_attempt(self, StepStatus.FAILED, self.reason, self.exit_code)
            aggregate._failures.append(self.step)

    class StepTimedOut(Event):
        """A running attempt outlived the step's `timeout_s`; its runner stopped it."""

        event_type: ClassVar[str] = "StepTimedOut"
        step: str
        attempt: int
        timeout_s: int
        duration_ms: int
        outputs: dict[str, str]
        metrics: dict[str, float]

        def apply(self, aggregate: Run) -> None:
            reason = f"timed out after {self.timeout_s}s"
            aggregate._end_attempt(self, StepStatus.TIMED_OUT, reason, None)
            aggregate._failures.append(self.step)

    class StepSkipped(Event):
        event_type: ClassVar[str] = "StepSkipped"
        step: str
        reason: str

        def apply(self, aggregate: Run) -> None:
            aggregate._update_step(
                self.step, status=StepStatus.SKIPPED, reason=self.reason, finished_at=self.timestamp
            )

    class StepCancelled(Event):
        event_type: ClassVar[str] = "StepCancelled"
        step: str
        reason: str

        def apply(self, aggregate: Run) -> None:
            aggregate._update_step(
                self.step,
                status=StepStatus.CANCELLED,
                reason=self.reason,
                finished_at=self.timestamp,
            )

    class LogChunkAppended(Event):
        event_type: ClassVar[str] = "LogChunkAppended"
        seq: int
        step: str | None
        stream: LogStream
        text: str

        def apply(self, aggregate: Run) -> None:
            aggregate.log_seqs[self.step] = self.seq
            aggregate.log_bytes += len(self.text.encode())

    class LogTruncated(Event):
        """Chunk `seq` of channel `step` was the first dropped; every later chunk is too."""

        event_type: ClassVar[str] = "LogTruncated"
        step: str | None
        seq: int
        bytes_kept: int

        def apply(self, aggregate: Run) -> None:
            aggregate.log_truncated = True

    class ApprovalRequested(Event):
        """A ready step waits for people's decision until `deadline`."""

        event_type: ClassVar[str] = "ApprovalRequested"
        step: str
        project_id: UUID
        prompt: str
        approvers: tuple[str, ...]
        required: int
        environment: str | None
        deadline: datetime

        def apply(self, aggregate: Run) -> None:
            aggregate._update_step(
                self.step,
                status=StepStatus.WAITING_FOR_APPROVAL,
                queued_at=self.timestamp,
                deadline=self.deadline,
            )

    class ApprovalDecided(Event):
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

        def apply(self, aggregate: Run) -> None:
            state = aggregate.steps[self.step]
            if self.decision == "approve":
                approvals = (*state.approvals, self.principal)
                aggregate._update_step(self.step, approvals=approvals)
            if self.opens and aggregate.plan[self.step].kind != "approval":
                aggregate._update_step(self.step, status=StepStatus.PENDING, approved=True)

    class StepCheckedOut(Event):
        """The running attempt fetched the run's repository and checked out `sha` at `path`."""

        event_type: ClassVar[str] = "StepCheckedOut"
        step: str
        attempt: int
        sha: str
        duration_ms: int
        path: str

    class StepWaitingForRunner(Event):
        """When it was queued, no registered, live runner served the attempt's labels."""

        event_type: ClassVar[str] = "StepWaitingForRunner"
        step: str
        attempt: int
        labels: tuple[str, ...]

        def apply(self, aggregate: Run) -> None:
            aggregate._update_step(self.step, waiting_for_runner=tuple(self.labels))

    class StepCarriedOver(Event):
        """A failed-only retry took this step as it succeeded in run `from_run`: not run again."""

        event_type: ClassVar[str] = "StepCarriedOver"
        step: str
        from_run: UUID
        attempt: int
        outputs: dict[str, str]

        def apply(self, aggregate: Run) -> None:
            aggregate._update_step(
                self.step,
                status=StepStatus.SUCCEEDED,
                attempt=self.attempt,
                finished_at=self.timestamp,
                outputs=dict(self.outputs),
                carried_from=self.from_run,
            )

    class RunRetried(Event):
        """This finished run was retried as run `retry` (the new run names it in `retry_of`)."""

        event_type: ClassVar[str] = "RunRetried"
        retry: UUID
        actor: str
        failed_only: bool

        def apply(self, aggregate: Run) -> None:
            aggregate.retried_by.append(self.retry)

    # Artifacts, workspaces and caches (commands in domain/run_artifacts.py)

    class ArtifactUploaded(Event):
        """A step's artifact (or its workspace, kind `workspace`) lies in the object store."""

        event_type: ClassVar[str] = "ArtifactUploaded"
        project_id: UUID
        pipeline_id: UUID
        name: str
        kind: str
        step: str
        attempt: int
        format: str
        path: str
        """For format `file`: where it lay in the workspace (a later step gets it there)."""
        size: int
        sha256: str
        object_key: str
        retention_days: int

        def apply(self, aggregate: Run) -> None:
            aggregate.artifacts[(self.kind, self.name)] = StoredArtifact(
                object_key=self.object_key, size=self.size
            )

    class ArtifactDeleted(Event):
        """Removed from the object store (its retention ran out)."""

        event_type: ClassVar[str] = "ArtifactDeleted"
        name: str
        kind: str
        object_key: str
        reason: str

        def apply(self, aggregate: Run) -> None:
            aggregate.artifacts.pop((self.kind, self.name), None)

    class CacheRestored(Event):
        """Before a step: an entry for its cache key was found (`hit`, on `branch`) or not.

        `matched_key` is the key of the entry restored: `key` itself, or (when `restore_key`
        is set) the newest entry whose key starts with that `restore_keys` prefix. `exact`:
        `key` itself on the run's own branch (the step then saves nothing). Schema v2 added
        `matched_key` and `restore_key`; a v1 hit matched `key` itself.
        """

        event_type: ClassVar[str] = "CacheRestored"
        schema_version: ClassVar[int] = 2
        step: str
        attempt: int
        key: str
        hit: bool
        exact: bool
        branch: str
        object_key: str
        matched_key: str
        restore_key: str

        @staticmethod
        def upcast_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
            matched = data["key"] if data["hit"] else ""
            return {**data, "matched_key": matched, "restore_key": ""}

        def apply(self, aggregate: Run) -> None:
            aggregate.cache_records += 1

    class CacheSaved(Event):
        """After a step: its cache paths saved under `key` for the pipeline and `branch`."""

        event_type: ClassVar[str] = "CacheSaved"
        project_id: UUID
        pipeline_id: UUID
        step: str
        attempt: int
        key: str
        branch: str
        object_key: str
        size: int
        sha256: str

        def apply(self, aggregate: Run) -> None:
            aggregate.cache_records += 1

    class CacheEvicted(Event):
        """A cache entry this run saved was removed to keep the caches under their size limit."""

        event_type: ClassVar[str] = "CacheEvicted"
        key: str
        branch: str
        object_key: str
        size: int
        reason: str

        def apply(self, aggregate: Run) -> None:
            aggregate.cache_records += 1

    class ConcurrencyClaimed(Event):
        """The run belongs to concurrency group `key`; it waits until the group admits it."""

        event_type: ClassVar[str] = "RunConcurrencyClaimed"
        group_id: UUID
        key: str
        policy: str

        def apply(self, aggregate: Run) -> None:
            aggregate.concurrency = ConcurrencyClaim(
                group_id=self.group_id, key=self.key, policy=self.policy
            )

    class ConcurrencyAdmitted(Event):
        """Its concurrency group admitted the run: its steps may be dispatched."""

        event_type: ClassVar[str] = "RunConcurrencyAdmitted"
        group_id: UUID

        def apply(self, aggregate: Run) -> None:
            aggregate.concurrency_admitted = True

    class StepConcurrencyAdmitted(Event):
        """The step's own concurrency group admitted it: it may be queued."""

        event_type: ClassVar[str] = "StepConcurrencyAdmitted"
        step: str
        group_id: UUID

        def apply(self, aggregate: Run) -> None:
            aggregate.admitted_steps.add(self.step)

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
            self._cancel_steps(waiting, "run cancelled", at)
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

    def _why_unsuccessful(self, step: str) -> str:
        timed_out = self.steps[step].status is StepStatus.TIMED_OUT
        return f"{step} timed out" if timed_out else f"{step} failed"

    def _failed_for_good(self, step: str) -> bool:
        return self.steps[step].status.unsuccessful and not self.plan[step].allow_failure

    def _cancel_steps(self, statuses: tuple[StepStatus, ...], reason: str, at: datetime) -> None:
        for name, state in self.steps.items():
            if state.status in statuses:
                self.trigger_event(self.StepCancelled, step=name, reason=reason, timestamp=at)

    def _require_internal(self, attempted: str) -> None:
        if self.external is not None:
            raise RunKindMismatch("external", attempted)

    def _require_run(self, target: RunStatus, attempted: str) -> None:
        if target not in RUN_TRANSITIONS.get(self.status, frozenset()):
            raise IllegalTransition("run", self.status.value, attempted)

    def _require_run_in(self, statuses: tuple[RunStatus, ...], attempted: str) -> None:
        if self.status not in statuses:
            raise IllegalTransition("run", self.status.value, attempted)

    def _step(self, step: str) -> StepState:
        try:
            return self.steps[step]
        except KeyError:
            raise UnknownStep(step) from None

    def _update_step(self, step: str, **changes: object) -> None:
        self.steps[step] = msgspec.structs.replace(self.steps[step], **changes)

    def _end_attempt(
        self,
        event: Run.StepSucceeded | Run.StepFailed | Run.StepTimedOut,
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

    def _finish(self, status: RunStatus, at: datetime) -> None:
        self.status = status
        self.finished_at = at


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
