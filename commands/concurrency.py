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
from domain.concurrency_group import ConcurrencyGroup, group_id_for, member_id_for
from domain.errors import AggregateNotFound
from domain.limits import Key
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
    key: str,
    context: CommandContext,
    deps: Dependencies,
    decide: Callable[[ConcurrencyGroup], None],
    *,
    create: bool = True,
) -> tuple[ConcurrencyGroup | None, Appended | None]:
    for attempt in range(GROUP_ATTEMPTS):
        try:
            group = await deps.repository.get(ConcurrencyGroup, group_id_for(run.project_id, key))
        except AggregateNotFound:
            if not create:
                return None, None
            # Two processes opening it at once: one append loses and decides again.
            group = ConcurrencyGroup.open(project_id=run.project_id, key=key, at=context.at)
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
    assert run.concurrency is not None
    claim = run.concurrency
    group, _ = await _on_group(
        run, claim.key, context, deps, lambda g: g.join(run.id, claim.policy, at=context.at)
    )
    return group is not None and group.holder == run.id


def step_group(key: str) -> str:
    """Steps queue in groups of their own: a step's `deploy` is not a pipeline's `deploy`."""
    return f"step:{key}"


async def join_step_groups(run: Run, context: CommandContext, deps: Dependencies) -> None:
    """Each step due to run that waits for its own group joins it (queue); those the group
    admits at once are admitted on the run."""
    for step in run.steps_awaiting_group():
        member, key = member_id_for(run.id, step), step_group(run.plan[step].group_key)
        group, _ = await _on_group(
            run, key, context, deps, lambda g, m=member: g.join(m, "queue", at=context.at)
        )
        if group is not None and group.holder == member:
            run.admit_step(step, group.id, at=context.at)


async def leave_group(
    run: Run, context: CommandContext, deps: Dependencies
) -> tuple[ConcurrencyGroup | None, Appended | None]:
    """Release the ended run from its group (nothing if it is not in it, or there is none)."""
    assert run.concurrency is not None
    return await _on_group(
        run,
        run.concurrency.key,
        context,
        deps,
        lambda g: g.release(run.id, at=context.at),
        create=False,
    )


class ReleaseStepConcurrency(msgspec.Struct, frozen=True, kw_only=True):
    """The step ended (for good: not with a retry queued): its group lets the next one in."""

    retry_on_conflict: ClassVar[bool] = True
    run_id: UUID
    step: Key


async def release_step_concurrency(
    command: ReleaseStepConcurrency, context: CommandContext, deps: Dependencies
) -> CommandResult:
    run = await deps.repository.get(Run, command.run_id)
    context.principal.require_on("runner", run, run.project_id, "write")
    plan, state = run.plan.get(command.step), run.steps.get(command.step)
    if plan is None or state is None or not plan.group_key or not state.status.finished:
        return answer(run, None)  # no group, or a retry is queued: it holds on
    member = member_id_for(run.id, command.step)
    group, appended = await _on_group(
        run, step_group(plan.group_key), context, deps, lambda g: g.release(member, at=context.at),
        create=False,
    )  # fmt: skip
    return answer(run, None) if group is None else answer(group, appended)


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
    ReleaseStepConcurrency: release_step_concurrency,
    CancelSupersededRun: cancel_superseded_run,
}
