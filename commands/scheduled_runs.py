"""Many schedules' due slots fired by one command: the runs built one by one, loaded and
appended together.

A slot fired alone costs a pipeline read and an append of its own; at a busy minute (thousands
of schedules on `0 * * * *`) those round trips are the scheduler's whole cost. Here the
pipelines come in one read and the runs go to the store in one `save_many`, each run's stream
still expected new (version 0) and keyed by its slot: a slot another scheduler fired first is
refused on its own (a version conflict, or the key's replay), and fires exactly once whichever
scheduler gets there first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.ports import VersionConflict
from commands.runs import TriggerRun, requested_run
from commands.schedule_times import latest_slot
from commands.scheduled_reads import Built, ReadsKept, wait_until
from domain.errors import AggregateNotFound, DomainError, IllegalTransition
from domain.limits import ITEMS_MAX, Key, ParamScalar, ScheduleKey
from domain.pipeline import Pipeline
from domain.run import Run
from domain.trigger_schedule import schedule_key

SLOTS_MAX = 1000
"""Slots in one command: one append batch of the store's group commit."""


def slot_key(pipeline_id: UUID, schedule: str, slot: datetime) -> str:
    """The idempotency key of one slot (short whatever the schedule's name)."""
    digest = hashlib.sha256(schedule.encode()).hexdigest()[:24]
    return f"schedule:{pipeline_id}:{digest}:{slot.strftime('%Y%m%dT%H%M%SZ')}"


class ScheduledSlot(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    schedule: ScheduleKey
    slot: datetime
    parameters: Annotated[dict[Key, ParamScalar], Meta(max_length=ITEMS_MAX)] = {}


class TriggerScheduledRuns(msgspec.Struct, frozen=True, kw_only=True):
    """Fire each slot's run, as `TriggerRun` of kind `schedule` with the slot's idempotency key
    (`slot_key`) would: the same run id, the same events."""

    slots: Annotated[tuple[ScheduledSlot, ...], Meta(min_length=1, max_length=SLOTS_MAX)]
    not_before: datetime | None = None
    """Build the runs at once but write them at this moment (a scheduler sends a busy slot's
    batch a little ahead, so at the slot only the append is left): the runs are requested at
    it, never before, and a slot whose pipeline (or environment) moved meanwhile is decided
    again. None: write at once."""


class SlotFired(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    written: bool
    """False: another request (another scheduler) had fired this slot already."""
    refused: str = ""
    """Why the pipeline refused the run (deactivated, gone), if it did."""


class ScheduledRunsTriggered(CommandResult, frozen=True, kw_only=True, omit_defaults=True):
    fired: list[SlotFired] = []
    """One per slot, in the command's order."""


def slot_context(context: CommandContext, slot: ScheduledSlot) -> CommandContext:
    """The context a lone `TriggerRun` of this slot would have: its key, so its run id."""
    key = slot_key(slot.pipeline_id, slot.schedule, slot.slot)
    return msgspec.structs.replace(context, idempotency_key=key)


async def trigger_scheduled_runs(
    command: TriggerScheduledRuns, context: CommandContext, deps: Dependencies
) -> ScheduledRunsTriggered:
    if command.not_before is None:
        return await _write(await _build(command.slots, context, deps), deps)
    # Built and encoded now, written at the slots' moment: requested then (the runs' `at`).
    context = msgspec.structs.replace(context, at=max(context.at, command.not_before))
    built = await _build(command.slots, context, deps, remember=True)
    encoded = _encoded(built, deps)
    await wait_until(command.not_before)
    if await still_current(built, command.slots, context, deps):
        encoded = _encoded(built, deps)  # some were decided again
    return await _write(built, deps, encoded)


async def _build(
    slots: Sequence[ScheduledSlot],
    context: CommandContext,
    deps: Dependencies,
    *,
    remember: bool = False,
    recheck: bool = False,
) -> list[Built]:
    """Each slot's run (or why its pipeline refused it); with `remember`, what each read;
    with `recheck`, refused unless its schedule still stands as the slot was decided on."""
    pipelines = await deps.repository.get_many(Pipeline, {s.pipeline_id for s in slots})
    built: list[Built] = []
    for slot in slots:
        one = slot_context(context, slot)
        pipeline = pipelines.get(slot.pipeline_id)
        reads = ReadsKept(deps.repository, slot.pipeline_id, pipeline) if remember else None
        try:
            if pipeline is None:
                raise AggregateNotFound("pipeline", slot.pipeline_id)
            if recheck:
                _still_scheduled(pipeline, slot)
            trigger = TriggerRun(
                pipeline_id=slot.pipeline_id,
                parameters=slot.parameters,
                kind="schedule",
                schedule=slot.schedule,
                slot=slot.slot,
            )
            on = deps if reads is None else msgspec.structs.replace(deps, repository=reads)
            run: Run | str = await requested_run(pipeline, trigger, one, on)
        except DomainError as error:
            run = str(error)
        read = {} if reads is None else reads.read
        built.append(Built(run=run, run_id=one.new_id("run"), context=one, read=read))
    return built


def _encoded(built: Sequence[Built], deps: Dependencies) -> object:
    runs = [(b.run, b.context.metadata()) for b in built if not isinstance(b.run, str)]
    return deps.repository.encoded(runs)


async def _write(
    built: Sequence[Built], deps: Dependencies, encoded: object | None = None
) -> ScheduledRunsTriggered:
    """The built runs appended (`encoded` if they were already), one outcome per slot."""
    fired = [
        SlotFired(run_id=b.run_id, written=False, refused=b.run)
        if isinstance(b.run, str)
        else SlotFired(run_id=b.run_id, written=False)
        for b in built
    ]
    runs = [n for n, b in enumerate(built) if not isinstance(b.run, str)]
    saved = await deps.repository.save_encoded(
        _encoded(built, deps) if encoded is None else encoded
    )
    position = None
    for n, outcome in zip(runs, saved, strict=True):
        if isinstance(outcome, VersionConflict):
            continue  # another scheduler's run of this slot got there first
        if isinstance(outcome, Exception):
            raise outcome  # the store failed (the next tick tries again; the key dedupes)
        written = not getattr(outcome, "duplicate", False)
        fired[n] = msgspec.structs.replace(fired[n], written=written)
        if written:
            position = max(position or 0, outcome.last_position)
    return ScheduledRunsTriggered(id="", version=0, position=position, fired=fired)


async def still_current(
    built: list[Built], slots: Sequence[ScheduledSlot], context: CommandContext, deps: Dependencies
) -> bool:
    """Whether any slot's reads moved since `built` (a pipeline deactivated or changed, an
    environment configured): those are built again, in place, on what is there now."""
    read = {id: version for b in built for id, version in b.read.items()}
    now = await deps.repository.versions(read)
    moved = {id for id, version in read.items() if now[id] != version}
    stale = [n for n, b in enumerate(built) if not moved.isdisjoint(b.read)]
    if stale:
        again = await _build([slots[n] for n in stale], context, deps, recheck=True)
        for n, one in zip(stale, again, strict=True):
            built[n] = one
    return bool(stale)


def _still_scheduled(pipeline: Pipeline, slot: ScheduledSlot) -> None:
    """A pipeline changed since its slot was decided on: the slot must still be one of its
    active schedule's (an edit may have dropped the schedule or moved its cron)."""
    for trigger in pipeline.definition(pipeline.current_version).triggers:
        if trigger.source != "schedule" or schedule_key(trigger) != slot.schedule:
            continue
        if trigger.active and latest_slot(trigger, slot.slot) == slot.slot:
            return
    raise IllegalTransition("schedule", "no longer on the pipeline", f"fire {slot.slot} of")


HANDLERS = {TriggerScheduledRuns: trigger_scheduled_runs}
