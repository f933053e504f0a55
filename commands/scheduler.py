"""The scheduler's process manager: which slot of which schedule is due, and firing it once.

Each tick reads the schedules (a port, `ScheduleBook`) and decides on each one
(`commands/schedule_decisions.py`: fire the latest slot, or put the missed ones on record by
its `catch_up`); the slots due are fired by `commands/schedule_firing.py`, exactly once with
any number of schedulers.

With `ahead`, a slot that will be due within it is sent at once with `not_before` (the
command builds its runs now and writes them at the slot, never before), so a busy minute's
reads and CPU are spent before it comes rather than after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from commands.schedule_decisions import (
    Decision,
    DueSchedule,
    Missed,
    due_slot,
    one_due,
    two_after,
)
from commands.schedule_firing import (
    SCHEDULER,
    Dispatch,
    Due,
    Fired,
    ScheduleBook,
    SlotFirer,
    run_id_of,
)
from commands.scheduled_runs import SLOTS_MAX, slot_key

__all__ = [
    "SCHEDULER",
    "Dispatch",
    "DueSchedule",
    "Fired",
    "ScheduleBook",
    "Scheduler",
    "Tick",
    "due_slot",
    "run_id_of",
    "slot_key",
]


class Tick(msgspec.Struct, frozen=True, kw_only=True):
    fired: list[Fired]
    """Each slot this tick fired (or found fired)."""
    skipped: list[Fired]
    """Each record of missed slots this tick made (or found made); `slot` is the last one."""


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
        ahead: timedelta = timedelta(0),
        ahead_batch_size: int = SLOTS_MAX,
        ahead_in_flight: int = 5,
    ) -> None:
        if not timedelta(0) <= ahead < timedelta(minutes=1):
            raise ValueError(f"ahead must be under a minute (a slot's period at least): {ahead}")
        self._book, self._clock = book, clock
        self._grace, self._concurrency, self._ahead = grace, concurrency, ahead
        self._firer = SlotFirer(
            dispatch,
            book,
            batch_size=batch_size,
            batches_in_flight=batches_in_flight,
            ahead_batch_size=ahead_batch_size,
            ahead_in_flight=ahead_in_flight,
        )
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
        due: list[Due] = []
        missed: list[tuple[DueSchedule, Missed]] = []
        decided: list[DueSchedule] = []
        undecided: dict[tuple[UUID, str], datetime | None] = {}
        """The anchors before this tick of the schedules it fires."""
        schedules, self._prepared = self._prepared, None
        for schedule in schedules if schedules is not None else await self._book.schedules():
            ident = (schedule.pipeline_id, schedule.key)
            decision = self._decide(schedule, ident, now)
            if decision is None:
                continue  # most schedules at most ticks: far from their next slot
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
                return await self._firer.skip(schedule, slots, now)

        try:
            fired = await self._firer.fire_due(due, now)
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
            anchor = self._anchors[ident]
            self._waiting[ident] = (anchor, *two_after(schedule.trigger, anchor))
        return tick

    def _decide(
        self, schedule: DueSchedule, ident: tuple[UUID, str], now: datetime
    ) -> Decision | None:
        """What to do about `schedule` now; None when its next slot is further than `ahead`."""
        anchor = max(
            t
            for t in (schedule.since, schedule.last_slot, self._anchors.get(ident))
            if t is not None
        )
        waiting = self._waiting.get(ident)
        if waiting is None or waiting[0] != anchor:
            return due_slot(schedule, now, self._grace, anchor)
        _, wake, after = waiting
        if wake > now + self._ahead:
            return None
        if wake > now:  # due within `ahead`: sent now, written at the slot
            return Decision(fire=wake, anchor=wake)
        if after > now:  # exactly one slot due: decided without the calendar
            return one_due(schedule, wake, now, self._grace)
        return due_slot(schedule, now, self._grace, anchor)
