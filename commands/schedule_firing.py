"""Firing due slots, each once however many schedulers fire it: in batches, or on record as
missed.

Exactly once with any number of schedulers: a fired run's id is derived from its
(pipeline, schedule, slot) through the idempotency key, so a second scheduler's attempt at
the same slot appends nothing (the store answers `duplicate`) or meets the existing stream.

Due slots are fired in batches (`TriggerScheduledRuns`: one pipeline read, one append for
many runs), ordered by run id from a random batch on; a batch is claimed while fired, so
several schedulers split a busy minute rather than all build every run (`fire_due`).

A slot still ahead (due within the scheduler's `ahead`) is sent at once with `not_before`
(the command builds its runs now and writes them at the slot, never before), so a busy
minute's reads and CPU are spent before it comes rather than after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import msgspec

from commands.bus import CommandResult
from commands.context import CommandContext, Principal
from commands.ports import VersionConflict
from commands.schedule_decisions import DueSchedule, Missed
from commands.schedule_skips import RecordScheduleSkip
from commands.scheduled_runs import (
    SLOTS_MAX,
    ScheduledRunsTriggered,
    ScheduledSlot,
    TriggerScheduledRuns,
    slot_key,
)
from domain.errors import DomainError

log = logging.getLogger(__name__)

SCHEDULER = Principal(
    id="scheduler", name="scheduler", project_id=None, scopes=frozenset({"write"})
)
"""Who fires scheduled runs: the same on every scheduler, so their run ids agree."""

Dispatch = Callable[[object, CommandContext], Awaitable[CommandResult]]
Due = tuple[DueSchedule, datetime]
"""A schedule and its slot to fire."""


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


def run_id_of(schedule: DueSchedule, slot: datetime, now: datetime) -> UUID:
    """The run a slot fires: the same on every scheduler (derived from the slot's key)."""
    key = slot_key(schedule.pipeline_id, schedule.key, slot)
    return CommandContext(
        principal=SCHEDULER, at=now, correlation_id="", idempotency_key=key
    ).new_id("run")


def _batch_key(batch: Sequence[Due], now: datetime) -> str:
    """The same batch on every scheduler that read the same schedules."""
    first, last = batch[0], batch[-1]
    return f"{run_id_of(*first, now)}:{run_id_of(*last, now)}:{len(batch)}"


class SlotFirer:
    """Sends due slots through the command bus: runs in claimed batches, missed slots on record."""

    def __init__(
        self,
        dispatch: Dispatch,
        book: ScheduleBook,
        *,
        batch_size: int = 250,
        batches_in_flight: int = 2,
        ahead_batch_size: int = SLOTS_MAX,
        ahead_in_flight: int = 5,
    ) -> None:
        self._dispatch, self._book = dispatch, book
        self._batch_size, self._batches_in_flight = batch_size, batches_in_flight
        self._ahead_batch_size, self._ahead_in_flight = ahead_batch_size, ahead_in_flight

    async def fire_due(self, due: Sequence[Due], now: datetime) -> list[Fired]:
        """Every due slot, in batches ordered by run id from a random batch on, so schedulers
        start apart; each first takes the batches no other holds, then waits on the others
        and fires what their holder left (nothing, unless it died on the way).

        Slots still ahead (after `now`) go in batches of their own moment, larger and more
        of them in flight: each is built now and written at its slot (`not_before`)."""
        now_batches = _batches([d for d in due if d[1] <= now], self._batch_size, now)
        ahead: dict[datetime, list[Due]] = {}
        for one in due:
            if one[1] > now:
                ahead.setdefault(one[1], []).append(one)
        size = self._ahead_batch_size
        ahead_batches = [b for one in ahead.values() for b in _batches(one, size, now)]
        in_flight = asyncio.Semaphore(self._batches_in_flight)
        ahead_in_flight = asyncio.Semaphore(self._ahead_in_flight)
        passed: list[list[Due]] = []

        def limit(batch: list[Due]) -> asyncio.Semaphore:
            return ahead_in_flight if batch[0][1] > now else in_flight

        async def first(batch: list[Due]) -> list[Fired]:
            async with limit(batch), self._book.claim(_batch_key(batch, now), wait=False) as mine:
                if mine:
                    return await self.fire_many(batch, now)
            passed.append(batch)
            return []

        async def then(batch: list[Due]) -> list[Fired]:
            async with limit(batch), self._book.claim(_batch_key(batch, now), wait=True):
                return await self.fire_many(batch, now)

        batches = now_batches + ahead_batches
        fired = [f for one in await asyncio.gather(*map(first, batches)) for f in one]
        return fired + [f for one in await asyncio.gather(*map(then, passed)) for f in one]

    async def fire_many(self, batch: Sequence[Due], now: datetime) -> list[Fired]:
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
        slot = batch[0][1]
        command = TriggerScheduledRuns(
            not_before=slot if slot > now else None,
            slots=tuple(
                ScheduledSlot(
                    pipeline_id=batch[n][0].pipeline_id,
                    schedule=batch[n][0].key,
                    slot=batch[n][1],
                    parameters=dict(batch[n][0].trigger.parameters),
                )
                for n in todo
            ),
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
        context = CommandContext(
            principal=SCHEDULER, at=now, correlation_id=str(uuid.uuid4()), idempotency_key=key
        )
        fired = Fired(pipeline_id=schedule.pipeline_id, schedule=schedule.key, slot=missed.last,
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


def _batches(due: Sequence[Due], size: int, now: datetime) -> list[list[Due]]:
    """`due` in batches of `size` by run id, from a random one on (then round)."""
    ordered = sorted(due, key=lambda d: run_id_of(d[0], d[1], now))
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    start = random.randrange(len(batches)) if batches else 0
    return batches[start:] + batches[:start]
