"""Concurrency groups: a run joins its group before its steps are dispatched, leaves it when it
ends, and is cancelled when a newer run of a `cancel_in_progress` group supersedes it.

Every decision is appended to the group's stream with the version it was loaded at: two
processes joining or releasing at once conflict, and the command is retried on the new state.
The group process (`adapters/dispatch/groups.py`) sends these commands from the feed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from commands.ports import Appended, VersionConflict
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


GROUP_ATTEMPTS = 30
"""A group's stream is where runs meet: a lost append is decided again on the new state
(many more times than a command's usual retries, with a little random wait between)."""


async def _on_group(
    run: Run,
    context: CommandContext,
    deps: Dependencies,
    decide: Callable[[ConcurrencyGroup], None],
    *,
    create: bool = True,
) -> tuple[ConcurrencyGroup | None, Appended | None]:
    claim = run.concurrency
    assert claim is not None
    for attempt in range(GROUP_ATTEMPTS):
        try:
            group = await deps.repository.get(ConcurrencyGroup, claim.group_id)
        except AggregateNotFound:
            if not create:
                return None, None
            # Two processes opening it at once: one append loses and decides again.
            group = ConcurrencyGroup.open(project_id=run.project_id, key=claim.key, at=context.at)
        decide(group)
        try:
            return group, await deps.repository.save(group, metadata=context.metadata())
        except VersionConflict:
            if attempt == GROUP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    raise AssertionError("unreachable")


async def join_group(run: Run, context: CommandContext, deps: Dependencies) -> bool:
    """Join the run's claimed group (once); whether the group admits it now."""
    policy = run.concurrency.policy if run.concurrency else "queue"
    group, _ = await _on_group(run, context, deps, lambda g: g.join(run.id, policy, at=context.at))
    return group is not None and group.holder == run.id


async def leave_group(
    run: Run, context: CommandContext, deps: Dependencies
) -> tuple[ConcurrencyGroup | None, Appended | None]:
    """Release the ended run from its group (nothing if it is not in it, or there is none)."""
    return await _on_group(
        run, context, deps, lambda g: g.release(run.id, at=context.at), create=False
    )


async def release_concurrency(
    command: ReleaseConcurrency, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    if run.concurrency is None or not run.status.finished:
        return answer(run, None)
    group, appended = await leave_group(run, context, deps)
    return answer(run, None) if group is None else answer(group, appended)


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
