"""Runner commands: register (again), heartbeat, deregister, mark lost; liveness in a port."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext, Forbidden
from commands.outcome import answer
from domain.errors import AggregateNotFound, InvalidValue
from domain.limits import (
    ITEMS_MAX,
    JOBS_MAX,
    Concurrency,
    Host,
    Key,
    Keyword,
    Positive32,
    Reason,
    VersionText,
)
from domain.runner import Runner, runner_id_for


class RegisterRunner(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    name: Key
    labels: Annotated[tuple[Keyword, ...], Meta(max_length=ITEMS_MAX)]
    host: Host
    version: VersionText
    concurrency: Concurrency


class RunningJob(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    run_id: UUID
    step: Key
    attempt: Positive32


class RecordHeartbeat(msgspec.Struct, frozen=True, kw_only=True):
    runner_id: UUID
    jobs: Annotated[tuple[RunningJob, ...], Meta(max_length=JOBS_MAX)] = ()


class DeregisterRunner(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    runner_id: UUID


class MarkRunnerLost(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    runner_id: UUID
    last_seen: datetime | None
    reason: Reason


async def register_runner(
    command: RegisterRunner, context: CommandContext, deps: Dependencies
) -> CommandResult:
    principal = context.principal
    principal.require("runner", principal.project_id)
    runner_id = runner_id_for(command.name)
    details = {
        "labels": command.labels,
        "host": command.host,
        "version": command.version,
        "concurrency": command.concurrency,
    }
    try:
        runner = await deps.repository.get(Runner, runner_id)
    except AggregateNotFound:
        runner = Runner.register(
            name=command.name, project_id=principal.project_id, at=context.at, **details
        )
    else:
        # Someone else's runner name is not taken over by a key of another project; the
        # refusal names neither that project nor the runner (names are one namespace).
        if not principal.allows("runner", runner.project_id):
            raise Forbidden(f"the runner name {command.name!r} belongs to another project")
        runner.reregister(at=context.at, **details)
    # Seen before it is recorded: a runner that never heartbeats is still reaped.
    await deps.heartbeats.beat(runner.id, context.at, ())
    appended = await deps.repository.save(runner, metadata=context.metadata())
    return answer(runner, appended)


async def record_heartbeat(
    command: RecordHeartbeat, context: CommandContext, deps: Dependencies
) -> CommandResult:
    runner = await deps.repository.get(Runner, command.runner_id)
    context.principal.require_on("runner", runner, runner.project_id, shared=True)
    runner.require_active()
    if len(command.jobs) > JOBS_MAX:
        raise InvalidValue("jobs", f"at most {JOBS_MAX}")
    jobs = [msgspec.to_builtins(job) for job in command.jobs]
    await deps.heartbeats.beat(runner.id, context.at, jobs)
    return answer(runner, None)


async def deregister_runner(
    command: DeregisterRunner, context: CommandContext, deps: Dependencies
) -> CommandResult:
    runner = await deps.repository.get(Runner, command.runner_id)
    context.principal.require_on("runner", runner, runner.project_id, shared=True)
    runner.deregister(at=context.at)
    appended = await deps.repository.save(runner, metadata=context.metadata())
    await deps.heartbeats.forget(runner.id)
    return answer(runner, appended)


async def mark_runner_lost(
    command: MarkRunnerLost, context: CommandContext, deps: Dependencies
) -> CommandResult:
    runner = await deps.repository.get(Runner, command.runner_id)
    context.principal.require_on("runner", runner, runner.project_id, shared=True)
    runner.mark_lost(last_seen=command.last_seen, reason=command.reason, at=context.at)
    return answer(runner, await deps.repository.save(runner, metadata=context.metadata()))


HANDLERS = {
    RegisterRunner: register_runner,
    RecordHeartbeat: record_heartbeat,
    DeregisterRunner: deregister_runner,
    MarkRunnerLost: mark_runner_lost,
}
