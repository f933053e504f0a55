"""Dispatch: a run's ready steps queued and recorded as jobs, and what the dispatcher acts on."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Principal
from commands.outcome import written
from domain.pipeline import Pipeline
from domain.run import Run

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
    {"RunRequested", "StepQueued", "StepSucceeded", "StepFailed", "StepTimedOut", "StepSkipped"}
)
"""Events after which a run may have a step ready to become a job."""
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


async def dispatch_ready(
    command: DispatchReady, context: CommandContext, deps: Dependencies
) -> JobsDispatched:
    # 1. the run, and the pinned definition its steps come from (for their runner labels)
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require("runner", run.project_id, "write")
    if run.external is not None or not (run.ready_steps() or run.undispatched()):
        return JobsDispatched(**written(run, None))
    pipeline = await deps.repository.get(Pipeline, run.pipeline_id)
    definition = pipeline.definition(run.pipeline_version)
    # A step's job goes to the work queue of its first label.
    labels = {s.name: s.labels[0] if s.labels else DEFAULT_LABEL for s in definition.steps}
    # 2. decide, 3. append
    run.dispatch_ready(labels, at=context.at)
    jobs = tuple(
        DispatchedJob(job_id=e.job_id, step=e.step, attempt=e.attempt, label=e.label)
        for e in run.pending_events
        if isinstance(e, Run.StepDispatched)
    )
    saved = await deps.repository.save(run, metadata=context.metadata())
    # What was recorded, so the dispatcher can send the jobs now rather than when it reads them.
    return JobsDispatched(**written(run, saved), jobs=jobs, traceparent=context.traceparent)


HANDLERS = {DispatchReady: dispatch_ready}
