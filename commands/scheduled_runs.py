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
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.ports import VersionConflict
from commands.runs import TriggerRun, requested_run
from domain.errors import AggregateNotFound, DomainError
from domain.limits import ITEMS_MAX, Key, ParamScalar, ScheduleKey
from domain.pipeline import Pipeline
from domain.run import Run

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
    pipelines = await deps.repository.get_many(Pipeline, {s.pipeline_id for s in command.slots})
    fired: list[SlotFired] = []
    built: list[tuple[int, Run, CommandContext]] = []
    for n, slot in enumerate(command.slots):
        one = slot_context(context, slot)
        run_id = one.new_id("run")
        try:
            pipeline = pipelines.get(slot.pipeline_id)
            if pipeline is None:
                raise AggregateNotFound("pipeline", slot.pipeline_id)
            trigger = TriggerRun(
                pipeline_id=slot.pipeline_id,
                parameters=slot.parameters,
                kind="schedule",
                schedule=slot.schedule,
                slot=slot.slot,
            )
            run = await requested_run(pipeline, trigger, one, deps)
        except DomainError as error:
            fired.append(SlotFired(run_id=run_id, written=False, refused=str(error)))
            continue
        fired.append(SlotFired(run_id=run_id, written=False))
        built.append((n, run, one))
    saved = await deps.repository.save_many([(run, one.metadata()) for _, run, one in built])
    position = None
    for (n, _, _), outcome in zip(built, saved, strict=True):
        if isinstance(outcome, VersionConflict):
            continue  # another scheduler's run of this slot got there first
        if isinstance(outcome, Exception):
            raise outcome  # the store failed (the next tick tries again; the key dedupes)
        written = not getattr(outcome, "duplicate", False)
        fired[n] = msgspec.structs.replace(fired[n], written=written)
        if written:
            position = max(position or 0, outcome.last_position)
    return ScheduledRunsTriggered(id="", version=0, position=position, fired=fired)


HANDLERS = {TriggerScheduledRuns: trigger_scheduled_runs}
