"""Dispatch: a run's ready steps queued and recorded as jobs, and what the dispatcher acts on.

The dispatcher process (an adapter) keeps its memory in tables and talks to NATS; what it
decides lives here, as pure functions over events and facts, so it is tested without either:
which runs to wake after a batch, which jobs still need publishing, which attempts are lost,
which runners are reaped, and the context its commands carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.concurrency import join_group, join_step_groups, leave_group
from commands.context import CommandContext, Principal
from commands.outcome import written
from commands.run_reports import ReportStepStatus
from commands.runners import MarkRunnerLost
from domain.envelope import EventEnvelope
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition
from domain.run import RUN_ENDS, Run
from domain.run_dispatch import RUNNER_LOST
from domain.run_expansion import runner_labels

DISPATCHER = Principal(
    id="system:dispatcher",
    name="dispatcher",
    project_id=None,
    scopes=frozenset({"runner", "write"}),
)
"""Who the dispatcher's commands (dispatch, reaping, failing lost steps) act as."""

DEFAULT_LABEL = "linux"
"""The label of a step that lists none (the definition's own default)."""
WAKES_A_RUN = frozenset(
    {
        "RunRequested",
        "StepQueued",
        "StepSucceeded",
        "StepFailed",
        "StepTimedOut",
        "StepSkipped",
        "ApprovalDecided",
        "StepCancelled",
        "RunCancelRequested",
    }
)
"""Events after which a run may have a step ready to become a job (after a cancel: the steps
calling always() or cancelled())."""
TAKES_A_RUNNER_AWAY = frozenset({"RunnerLost", "RunnerReregistered", "RunnerDeregistered"})
"""After these, whatever the runner had started will never be reported: it failed `runner_lost`."""


class DispatchReady(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID


class DispatchedJob(msgspec.Struct, frozen=True, kw_only=True):
    """One step attempt recorded as a job, and the work queue it goes to."""

    job_id: UUID
    step: str
    attempt: int
    label: str


class JobsDispatched(CommandResult, frozen=True, kw_only=True, omit_defaults=True):
    """What `DispatchReady` recorded, so the dispatcher can send the jobs at once."""

    jobs: tuple[DispatchedJob, ...] = ()
    traceparent: str | None = None
    """The command's span: the jobs continue the trace of the dispatch that recorded them."""
    run: Run | None = None
    """The run as the command left it (at `version`), for the dispatcher that builds the jobs
    at once; never sent anywhere (the dispatcher is its only caller)."""


async def dispatch_ready(
    command: DispatchReady, context: CommandContext, deps: Dependencies
) -> JobsDispatched:
    # 1. the run, and the pinned definition its steps come from (for their runner labels)
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    if run.concurrency is not None and run.status.finished:
        # It may have joined while it was ending (a race with its release): leave again.
        await leave_group(run, context, deps)
    elif run.waits_for_group:
        if not await join_group(run, context, deps):
            return JobsDispatched(**written(run, None))  # it waits its turn in the group
        run.admit_concurrency(at=context.at)
    if run.steps_awaiting_group():
        await join_step_groups(run, context, deps)
    if run.external is not None or not (
        run.ready_steps() or run.undispatched() or run.pending_events
    ):
        return JobsDispatched(**written(run, None))
    # Only read (a pinned version never changes): taken unread when kept, checked by the append.
    pipeline = await deps.repository.get_to_read(Pipeline, run.pipeline_id)
    definition = pipeline.definition(run.pipeline_version)
    # A step's job goes to the work queue of its first label.
    labels = runner_labels(definition, run.plan, DEFAULT_LABEL)
    # 2. decide, 3. append
    run.dispatch_ready(labels, at=context.at)
    jobs = tuple(
        DispatchedJob(job_id=e.job_id, step=e.step, attempt=e.attempt, label=e.label)
        for e in run.pending_events
        if isinstance(e, Run.StepDispatched)
    )
    saved = await deps.repository.save(run, metadata=context.metadata())
    # What was recorded, so the dispatcher can send the jobs now rather than when it reads them.
    return JobsDispatched(
        **written(run, saved), jobs=jobs, traceparent=context.traceparent, run=run
    )


class LostAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """A step attempt whose runner is gone: nobody will ever report how it ended."""

    run_id: UUID
    step: str
    attempt: int
    runner: str | None = None


def runs_to_wake(
    events: Iterable[tuple[EventEnvelope, Mapping[str, Any]]],
) -> dict[UUID, EventEnvelope]:
    """The runs a batch leaves with steps maybe ready, each with the event that woke it.

    `events` pairs each event with its data at the current schema version.
    """
    woken: dict[UUID, EventEnvelope] = {}
    for event, data in events:
        run_id = UUID(event.stream_id)
        if event.type in WAKES_A_RUN:
            # An external run's steps run elsewhere: it is mirrored, never dispatched.
            if not (event.type == "RunRequested" and data.get("external")):
                woken[run_id] = event
        elif event.type == "StepDispatched" or event.type in RUN_ENDS:
            # Only DispatchReady records a dispatch, and it dispatched all that was ready then;
            # an ended run has nothing left to dispatch.
            woken.pop(run_id, None)
    return woken


def requested_definition(event_type: str, data: Mapping[str, Any]) -> tuple[UUID, int] | None:
    """The pinned definition (pipeline id, version) a run was woken with, when its waking
    event names it: only a `RunRequested` does."""
    if event_type != "RunRequested":
        return None
    return UUID(str(data["pipeline_id"])), int(data["pipeline_version"])


def joins_no_group(definition: PipelineDefinition) -> bool:
    """Whether no run of this definition ever joins a concurrency group, nor any of its steps.

    Such runs may be dispatched side by side. The others are dispatched one at a time in the
    order they were woken, since a group admits (or, `cancel_in_progress`, supersedes) in the
    order runs join it.
    """
    return definition.concurrency is None and all(s.concurrency is None for s in definition.steps)


def stays_gone(event_type: str) -> bool:
    """Whether a runner is gone after `event_type` (one of TAKES_A_RUNNER_AWAY).

    Re-registered, the name belongs to a new process: it is back, though whatever the old
    process had started is orphaned all the same.
    """
    return event_type != "RunnerReregistered"


def fail_lost(attempt: LostAttempt) -> ReportStepStatus:
    return ReportStepStatus(
        run_id=attempt.run_id,
        step=attempt.step,
        status="failed",
        attempt=attempt.attempt,
        runner=attempt.runner,
        reason=RUNNER_LOST,
    )


def still_to_publish(recorded: Sequence[UUID], sent: set[UUID]) -> tuple[list[UUID], set[UUID]]:
    """`(jobs to publish, jobs sent and not seen back yet)` once `recorded` come back in the feed.

    A job published at once by the dispatch that recorded it is not published again when its
    record arrives: the record only tells that it was sent.
    """
    unsent = [job for job in recorded if job not in sent]
    return unsent, sent - set(recorded)


def dispatcher_context(cause: EventEnvelope, at: datetime) -> CommandContext:
    """The context of a command the dispatcher sends because of `cause`: same correlation,
    same trace, caused by it."""
    return CommandContext(
        principal=DISPATCHER,
        at=at,
        correlation_id=cause.metadata.correlation_id or f"dispatch:{cause.stream_id}",
        causation_id=str(cause.event_id),
        traceparent=cause.metadata.traceparent,
    )


def reap(runner_id: UUID, seen_at: datetime, at: datetime) -> tuple[MarkRunnerLost, CommandContext]:
    """The command that marks a silent runner lost (its steps then fail), and its context."""
    silent = (at - seen_at).total_seconds()
    command = MarkRunnerLost(
        runner_id=runner_id, last_seen=seen_at, reason=f"no heartbeat for {silent:.0f} s"
    )
    return command, CommandContext(
        principal=DISPATCHER, at=at, correlation_id=f"reaper:{runner_id}"
    )


HANDLERS = {DispatchReady: dispatch_ready}
