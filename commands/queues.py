"""Queues you can see: a queued step no live runner serves is flagged, and one nobody starts
within its queue timeout fails `no_runner`. The dispatcher sends both."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from domain.limits import ITEMS_MAX, Key, Positive32, TimeoutS
from domain.run import Run


class FlagWaitingForRunner(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key
    attempt: Positive32
    labels: Annotated[tuple[Key, ...], Meta(min_length=1, max_length=ITEMS_MAX)]


class ExpireQueuedStep(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key
    attempt: Positive32
    timeout_s: TimeoutS
    timeout_from: Literal["step", "project", "server"] = "step"


async def flag_waiting_for_runner(
    command: FlagWaitingForRunner, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    run.flag_waiting(command.step, attempt=command.attempt, labels=command.labels, at=context.at)
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


async def expire_queued_step(
    command: ExpireQueuedStep, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    run.expire_queued(
        command.step,
        attempt=command.attempt,
        timeout_s=command.timeout_s,
        timeout_from=command.timeout_from,
        at=context.at,
    )
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


HANDLERS = {
    FlagWaitingForRunner: flag_waiting_for_runner,
    ExpireQueuedStep: expire_queued_step,
}
