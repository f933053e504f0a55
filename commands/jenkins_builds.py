"""A runner records the Jenkins build its jenkins step's attempt asks for, then starts.

The server and job come from the run's pinned definition, not from the runner: a runner can
only say which number Jenkins gave the build it was told to start.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import written
from domain.errors import InvalidValue
from domain.limits import Key, Positive32, Url
from domain.pipeline import Pipeline
from domain.run import Run


class RecordJenkinsBuild(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key
    attempt: Positive32
    runner: Key | None = None
    number: Positive32 | None = None
    """None: the build is about to be requested; a number: Jenkins started it."""
    url: Url | None = None


async def record_jenkins_build(
    command: RecordJenkinsBuild, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id)
    pipeline = await deps.repository.get(Pipeline, run.pipeline_id)
    if command.step not in run.plan:
        raise InvalidValue("step", f"no step {command.step!r} in this run")
    source = run.plan[command.step].source
    [spec] = [s for s in pipeline.definition(run.pipeline_version).steps if s.name == source]
    if spec.jenkins is None:
        raise InvalidValue("step", f"{command.step!r} is not a jenkins step")
    run.record_jenkins_build(
        command.step,
        attempt=command.attempt,
        runner=command.runner,
        server=spec.jenkins.url,
        job=spec.jenkins.job,
        number=command.number,
        url=command.url,
        at=context.at,
    )
    saved = await deps.repository.save(run, metadata=context.metadata())
    return CommandResult(**written(run, saved))


HANDLERS = {RecordJenkinsBuild: record_jenkins_build}
