"""Concurrency groups: a run joins its group before its steps are dispatched, leaves it when it
ends, and is cancelled when a newer run of a `cancel_in_progress` group supersedes it.

Every decision is appended to the group's stream with the version it was loaded at: two
processes joining or releasing at once conflict, and the command is retried on the new state.
The group process (`adapters/dispatch/groups.py`) sends these commands from the feed.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from domain.concurrency_group import ConcurrencyGroup
from domain.errors import AggregateNotFound
from domain.run import Run


class ReleaseConcurrency(msgspec.Struct, frozen=True, kw_only=True):
    """The run ended: its group lets the next waiting run in."""

    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID


class CancelSupersededRun(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    by: UUID


async def join_group(run: Run, context: CommandContext, deps: Dependencies) -> bool:
    """Join the run's claimed group (once); whether the group admits it now."""
    claim = run.concurrency
    assert claim is not None
    try:
        group = await deps.repository.get(ConcurrencyGroup, claim.group_id)
    except AggregateNotFound:
        # Two processes opening it at once: one append loses and its command is retried.
        group = ConcurrencyGroup.open(project_id=run.project_id, key=claim.key, at=context.at)
    group.join(run.id, claim.policy, at=context.at)
    await deps.repository.save(group, metadata=context.metadata())
    return group.holder == run.id


async def release_concurrency(
    command: ReleaseConcurrency, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    if run.concurrency is None or not run.status.finished:
        return answer(run, None)
    try:
        group = await deps.repository.get(ConcurrencyGroup, run.concurrency.group_id)
    except AggregateNotFound:
        return answer(run, None)  # it never joined: it ended before its first dispatch
    group.release(run.id, at=context.at)
    return answer(group, await deps.repository.save(group, metadata=context.metadata()))


async def cancel_superseded_run(
    command: CancelSupersededRun, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    if run.status.finished:
        return answer(run, None)  # it ended before the cancel could matter
    key = run.concurrency.key if run.concurrency else "?"
    reason = f"superseded by run {command.by} in concurrency group {key!r}"
    run.request_cancel(actor=context.principal.name, reason=reason, at=context.at)
    return answer(run, await deps.repository.save(run, metadata=context.metadata()))


HANDLERS = {
    ReleaseConcurrency: release_concurrency,
    CancelSupersededRun: cancel_superseded_run,
}
