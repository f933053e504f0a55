"""The scheduler's process manager: which slot of which schedule is due, and firing it once.

Each tick reads the schedules (a port, `ScheduleBook`) and, for each one, decides on the
latest slot at or before now that follows its anchor (the later of `since` and the last slot
fired):

- fresh (at most `grace` old): fire it;
- older (the scheduler was down), by the schedule's `catch_up`: `skip` fires nothing and
  waits for the next slot, `last` fires that latest missed slot (once, however many were
  missed).

Exactly once with any number of schedulers: a fired run's id is derived from its
(pipeline, schedule, slot) through the idempotency key, so a second scheduler's attempt at
the same slot appends nothing (the store answers `duplicate`) or meets the existing stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

import msgspec

from commands.bus import CommandResult
from commands.context import CommandContext, Principal
from commands.ports import VersionConflict
from commands.runs import TriggerRun
from commands.schedule_times import latest_slot, next_slot
from domain.errors import DomainError
from domain.pipeline_definition import TriggerSpec

log = logging.getLogger(__name__)

SCHEDULER = Principal(
    id="scheduler", name="scheduler", project_id=None, scopes=frozenset({"write"})
)
"""Who fires scheduled runs: the same on every scheduler, so their run ids agree."""


class DueSchedule(Protocol):
    pipeline_id: UUID
    project_id: UUID
    key: str
    trigger: TriggerSpec
    since: datetime
    last_slot: datetime | None


class ScheduleBook(Protocol):
    async def schedules(self) -> Sequence[DueSchedule]: ...


class Fired(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt at a slot: the run it is, and whether this scheduler wrote it."""

    pipeline_id: UUID
    schedule: str
    slot: datetime
    run_id: UUID | None
    written: bool
    refused: str = ""
    """Why the pipeline refused the run (deactivated since the view was read), if it did."""


Dispatch = Callable[[object, CommandContext], Awaitable[CommandResult]]


def due_slot(
    schedule: DueSchedule, now: datetime, grace: timedelta, anchor: datetime | None = None
) -> tuple[datetime | None, datetime]:
    """The slot to fire now (or None), and the anchor to remember for this schedule."""
    start = max(t for t in (schedule.since, schedule.last_slot, anchor) if t is not None)
    if next_slot(schedule.trigger, start) > now:
        return None, start
    latest = latest_slot(schedule.trigger, now)
    if now - latest <= grace or schedule.trigger.catch_up == "last":
        return latest, latest
    return None, latest  # skipped: missed while no scheduler ran


def slot_key(pipeline_id: UUID, schedule: str, slot: datetime) -> str:
    """The idempotency key of one slot (short whatever the schedule's name)."""
    digest = hashlib.sha256(schedule.encode()).hexdigest()[:24]
    return f"schedule:{pipeline_id}:{digest}:{slot.strftime('%Y%m%dT%H%M%SZ')}"


class Scheduler:
    """Fires due slots through the command bus; `tick` is one pass at the clock's now."""

    def __init__(
        self,
        dispatch: Dispatch,
        book: ScheduleBook,
        clock: Callable[[], datetime],
        *,
        grace: timedelta = timedelta(seconds=60),
        concurrency: int = 32,
    ) -> None:
        self._dispatch, self._book, self._clock = dispatch, book, clock
        self._grace, self._concurrency = grace, concurrency
        self._anchors: dict[tuple[UUID, str], datetime] = {}
        self._waiting: dict[tuple[UUID, str], tuple[datetime, datetime]] = {}
        """Per schedule, its anchor and the next slot after it: nothing to decide before."""

    async def tick(self) -> list[Fired]:
        now = self._clock()
        due: list[tuple[DueSchedule, datetime]] = []
        for schedule in await self._book.schedules():
            ident = (schedule.pipeline_id, schedule.key)
            anchor = max(
                t
                for t in (schedule.since, schedule.last_slot, self._anchors.get(ident))
                if t is not None
            )
            # Most ticks find most schedules far from their next slot: skip the calendar.
            waiting = self._waiting.get(ident)
            if waiting is not None and waiting[0] == anchor and waiting[1] > now:
                continue
            slot, self._anchors[ident] = due_slot(schedule, now, self._grace, anchor)
            if slot is None:
                anchor = self._anchors[ident]
                self._waiting[ident] = (anchor, next_slot(schedule.trigger, anchor))
            else:
                due.append((schedule, slot))
        random.shuffle(due)  # several schedulers: each starts on a different part of the work
        limit = asyncio.Semaphore(self._concurrency)

        async def fire(schedule: DueSchedule, slot: datetime) -> Fired:
            async with limit:
                return await self.fire(schedule, slot, now)

        return list(await asyncio.gather(*(fire(s, slot) for s, slot in due)))

    async def fire(self, schedule: DueSchedule, slot: datetime, now: datetime) -> Fired:
        key = slot_key(schedule.pipeline_id, schedule.key, slot)
        context = CommandContext(
            principal=SCHEDULER,
            at=now,
            correlation_id=str(uuid.uuid4()),
            idempotency_key=key,
        )
        command = TriggerRun(
            pipeline_id=schedule.pipeline_id,
            parameters=dict(schedule.trigger.parameters),
            kind="schedule",
            schedule=schedule.key,
            slot=slot,
        )
        fired = Fired(
            pipeline_id=schedule.pipeline_id,
            schedule=schedule.key,
            slot=slot,
            run_id=context.new_id("run"),
            written=False,
        )
        try:
            result = await self._dispatch(command, context)
        except VersionConflict:
            return fired  # another scheduler appended this very run a moment ago
        except DomainError as error:
            log.warning("schedule %s of %s: %s", schedule.key, schedule.pipeline_id, error)
            return msgspec.structs.replace(fired, refused=str(error))
        return msgspec.structs.replace(fired, written=not result.duplicate)
