"""The scheduler's process manager: which slot of which schedule is due, and firing it once.

Each tick reads the schedules (a port, `ScheduleBook`) and, for each one, decides on the
latest slot at or before now that follows its anchor (the later of `since` and the last slot
fired):

- fresh (at most `grace` old): fire it;
- older (the scheduler was down), by the schedule's `catch_up`: `skip` fires nothing and
  waits for the next slot, `last` fires that latest missed slot (once, however many were
  missed).

The slots that will never run are put on record (`RecordScheduleSkip`): an auditor sees
which, how many, and by which rule.

Exactly once with any number of schedulers: a fired run's id is derived from its
(pipeline, schedule, slot) through the idempotency key, so a second scheduler's attempt at
the same slot appends nothing (the store answers `duplicate`) or meets the existing stream.

Due slots are fired in batches (`TriggerScheduledRuns`: one pipeline read, one append for
many runs), ordered by run id from a random batch on; a batch is claimed while fired, so
several schedulers split a busy minute rather than all build every run (`fire_due`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

import msgspec

from commands.bus import CommandResult
from commands.context import CommandContext, Principal
from commands.ports import VersionConflict
from commands.schedule_skips import RecordScheduleSkip
from commands.schedule_times import latest_slot, next_slot, slots_after
from commands.scheduled_runs import (
    ScheduledRunsTriggered,
    ScheduledSlot,
    TriggerScheduledRuns,
    slot_key,
)
from domain.errors import DomainError
from domain.schedule_skip import SKIPPED_MAX
from domain.trigger_spec import TriggerSpec

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

    async def started_of(self, run_ids: Collection[UUID]) -> set[UUID]:
        """Which of these runs exist already, in one look."""

    def claim(self, key: str, *, wait: bool) -> contextlib.AbstractAsyncContextManager[bool]:
        """Whether this scheduler holds the batch `key` while inside; without `wait`, False at
        once when another does. Only spares work: exactly once never rests on it."""


class Fired(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt at a slot: the run it is, and whether this scheduler wrote it."""

    pipeline_id: UUID
    schedule: str
    slot: datetime
    run_id: UUID | None
    written: bool
    refused: str = ""
    """Why the pipeline refused the run (deactivated since the view was read), if it did."""


class Tick(msgspec.Struct, frozen=True, kw_only=True):
    fired: list[Fired]
    """Each slot this tick fired (or found fired)."""
    skipped: list[Fired]
    """Each record of missed slots this tick made (or found made); `slot` is the last one."""


Dispatch = Callable[[object, CommandContext], Awaitable[CommandResult]]


class Missed(msgspec.Struct, frozen=True, kw_only=True):
    """Slots that came and went while no scheduler ran, and will not run."""

    first: datetime
    last: datetime
    count: int


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    fire: datetime | None
    """The slot to fire now, if any."""
    anchor: datetime
    """The latest slot decided on (fired or not): the next decision starts after it."""
    missed: Missed | None = None


def due_slot(
    schedule: DueSchedule, now: datetime, grace: timedelta, anchor: datetime | None = None
) -> Decision:
    """What to do about the schedule now: which slot to fire, which were missed for good."""
    start = max(t for t in (schedule.since, schedule.last_slot, anchor) if t is not None)
    first = next_slot(schedule.trigger, start)
    if first > now:
        return Decision(fire=None, anchor=start)
    latest = latest_slot(schedule.trigger, now)
    fire = now - latest <= grace or schedule.trigger.catch_up == "last"
    unrun_until = latest if not fire else _before(schedule.trigger, first, latest)
    missed = None
    if unrun_until is not None:
        missed = Missed(first=first, last=unrun_until, count=_count(schedule, first, unrun_until))
    return Decision(fire=latest if fire else None, anchor=latest, missed=missed)


def _before(trigger: TriggerSpec, first: datetime, latest: datetime) -> datetime | None:
    """The slot just before `latest`, if it is not before `first`."""
    if first >= latest:
        return None
    return latest_slot(trigger, latest - timedelta(seconds=1))


def _count(schedule: DueSchedule, first: datetime, last: datetime) -> int:
    slots, count = slots_after(schedule.trigger, first), 1
    while count < SKIPPED_MAX and next(slots) <= last:
        count += 1
    return count


def _two(slots: Iterator[datetime]) -> tuple[datetime, datetime]:
    return next(slots).astimezone(UTC), next(slots).astimezone(UTC)


def run_id_of(schedule: DueSchedule, slot: datetime, now: datetime) -> UUID:
    """The run a slot fires: the same on every scheduler (derived from the slot's key)."""
    key = slot_key(schedule.pipeline_id, schedule.key, slot)
    return CommandContext(
        principal=SCHEDULER, at=now, correlation_id="", idempotency_key=key
    ).new_id("run")


def _batch_key(batch: Sequence[tuple[DueSchedule, datetime]], now: datetime) -> str:
    """The same batch on every scheduler that read the same schedules."""
    first, last = batch[0], batch[-1]
    return f"{run_id_of(*first, now)}:{run_id_of(*last, now)}:{len(batch)}"


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
        batch_size: int = 250,
        batches_in_flight: int = 2,
    ) -> None:
        self._dispatch, self._book, self._clock = dispatch, book, clock
        self._grace, self._concurrency = grace, concurrency
        self._batch_size, self._batches_in_flight = batch_size, batches_in_flight
        self._anchors: dict[tuple[UUID, str], datetime] = {}
        self._waiting: dict[tuple[UUID, str], tuple[datetime, datetime, datetime]] = {}
        """Per schedule, its anchor and the two slots after it: nothing to decide before the
        first, and until the second only that one slot (no calendar at the busy moment)."""
        self._prepared: Sequence[DueSchedule] | None = None

    async def prepare(self) -> None:
        """Read the schedules now, for the next tick: it then decides at once on its moment
        (the read is at most one tick old; a run fired twice would still be one run)."""
        self._prepared = await self._book.schedules()

    async def tick(self) -> Tick:
        now = self._clock()
        due: list[tuple[DueSchedule, datetime]] = []
        missed: list[tuple[DueSchedule, Missed]] = []
        decided: list[DueSchedule] = []
        undecided: dict[tuple[UUID, str], datetime | None] = {}
        """The anchors before this tick of the schedules it fires."""
        schedules, self._prepared = self._prepared, None
        for schedule in schedules if schedules is not None else await self._book.schedules():
            ident = (schedule.pipeline_id, schedule.key)
            anchor = max(
                t
                for t in (schedule.since, schedule.last_slot, self._anchors.get(ident))
                if t is not None
            )
            waiting = self._waiting.get(ident)
            if waiting is not None and waiting[0] == anchor:
                _, wake, after = waiting
                if wake > now:
                    continue  # most schedules at most ticks: far from their next slot
                if after > now:  # exactly one slot due: decided without the calendar
                    decision = self._one_due(schedule, wake, now)
                else:
                    decision = due_slot(schedule, now, self._grace, anchor)
            else:
                decision = due_slot(schedule, now, self._grace, anchor)
            if decision.fire is not None:
                undecided[ident] = self._anchors.get(ident)
            self._anchors[ident] = decision.anchor
            decided.append(schedule)
            if decision.missed is not None:
                missed.append((schedule, decision.missed))
            if decision.fire is not None:
                due.append((schedule, decision.fire))
        limit = asyncio.Semaphore(self._concurrency)

        async def skip(schedule: DueSchedule, slots: Missed) -> Fired:
            async with limit:
                return await self.skip(schedule, slots, now)

        try:
            fired = await self.fire_due(due, now)
        except BaseException:
            # The store failed under a batch: the next tick decides these slots again (the
            # runs written meanwhile are replays then), rather than leave them to others.
            for ident, anchor in undecided.items():
                if anchor is None:
                    self._anchors.pop(ident, None)
                else:
                    self._anchors[ident] = anchor
            raise
        tick = Tick(
            fired=fired,
            skipped=list(await asyncio.gather(*(skip(s, m) for s, m in missed))),
        )
        for schedule in decided:  # after the work: the calendar for the next slots
            ident = (schedule.pipeline_id, schedule.key)
            slots = slots_after(schedule.trigger, self._anchors[ident])
            self._waiting[ident] = (self._anchors[ident], *_two(slots))
        return tick

    async def fire_due(
        self, due: Sequence[tuple[DueSchedule, datetime]], now: datetime
    ) -> list[Fired]:
        """Every due slot, in batches ordered by run id from a random batch on, so schedulers
        start apart; each first takes the batches no other holds, then waits on the others
        and fires what their holder left (nothing, unless it died on the way)."""
        ordered = sorted(due, key=lambda d: run_id_of(d[0], d[1], now))
        size = self._batch_size
        batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        start = random.randrange(len(batches)) if batches else 0
        batches = batches[start:] + batches[:start]
        in_flight = asyncio.Semaphore(self._batches_in_flight)
        passed: list[list[tuple[DueSchedule, datetime]]] = []

        async def first(batch: list[tuple[DueSchedule, datetime]]) -> list[Fired]:
            async with in_flight, self._book.claim(_batch_key(batch, now), wait=False) as mine:
                if mine:
                    return await self.fire_many(batch, now)
            passed.append(batch)
            return []

        async def then(batch: list[tuple[DueSchedule, datetime]]) -> list[Fired]:
            async with in_flight, self._book.claim(_batch_key(batch, now), wait=True):
                return await self.fire_many(batch, now)

        fired = [f for one in await asyncio.gather(*map(first, batches)) for f in one]
        return fired + [f for one in await asyncio.gather(*map(then, passed)) for f in one]

    async def fire_many(
        self, batch: Sequence[tuple[DueSchedule, datetime]], now: datetime
    ) -> list[Fired]:
        """Fire these slots with one command (`TriggerScheduledRuns`), less those whose run
        exists already; each slot is written once whoever else fires it meanwhile."""
        ids = [run_id_of(schedule, slot, now) for schedule, slot in batch]
        started = await self._book.started_of(ids)
        fired = [Fired(pipeline_id=schedule.pipeline_id, schedule=schedule.key, slot=slot,
                       run_id=run_id, written=False)
                 for (schedule, slot), run_id in zip(batch, ids, strict=True)]  # fmt: skip
        todo = [n for n, run_id in enumerate(ids) if run_id not in started]
        if not todo:
            return fired
        command = TriggerScheduledRuns(
            slots=tuple(
                ScheduledSlot(
                    pipeline_id=batch[n][0].pipeline_id,
                    schedule=batch[n][0].key,
                    slot=batch[n][1],
                    parameters=dict(batch[n][0].trigger.parameters),
                )
                for n in todo
            )
        )
        context = CommandContext(principal=SCHEDULER, at=now, correlation_id=str(uuid.uuid4()))
        result = await self._dispatch(command, context)
        if not isinstance(result, ScheduledRunsTriggered):
            raise TypeError(f"TriggerScheduledRuns answered {type(result).__name__}")
        for n, one in zip(todo, result.fired, strict=True):
            if one.refused:
                schedule = batch[n][0]
                log.warning("schedule %s of %s: %s", schedule.key, schedule.pipeline_id,
                            one.refused)  # fmt: skip
            fired[n] = msgspec.structs.replace(fired[n], written=one.written, refused=one.refused)
        return fired

    def _one_due(self, schedule: DueSchedule, slot: datetime, now: datetime) -> Decision:
        if now - slot <= self._grace or schedule.trigger.catch_up == "last":
            return Decision(fire=slot, anchor=slot)
        return Decision(fire=None, anchor=slot, missed=Missed(first=slot, last=slot, count=1))

    async def skip(self, schedule: DueSchedule, missed: Missed, now: datetime) -> Fired:
        """Put on record the slots that will not run, once whichever scheduler decides it."""
        key = f"skip:{slot_key(schedule.pipeline_id, schedule.key, missed.last)}"
        command = RecordScheduleSkip(
            pipeline_id=schedule.pipeline_id,
            schedule=schedule.key,
            first=missed.first,
            last=missed.last,
            count=missed.count,
            catch_up=schedule.trigger.catch_up,
        )
        return await self._send(command, key, now, schedule, missed.last)

    async def _send(
        self, command: object, key: str, now: datetime, schedule: DueSchedule, slot: datetime
    ) -> Fired:
        context = CommandContext(
            principal=SCHEDULER, at=now, correlation_id=str(uuid.uuid4()), idempotency_key=key
        )
        fired = Fired(pipeline_id=schedule.pipeline_id, schedule=schedule.key, slot=slot,
                      run_id=None, written=False)  # fmt: skip
        try:
            result = await self._dispatch(command, context)
        except VersionConflict:
            return fired  # another scheduler appended this very stream a moment ago
        except DomainError as error:
            log.warning("schedule %s of %s: %s", schedule.key, schedule.pipeline_id, error)
            return msgspec.structs.replace(fired, refused=str(error))
        written = result.position is not None and not result.duplicate
        return msgspec.structs.replace(fired, written=written)
