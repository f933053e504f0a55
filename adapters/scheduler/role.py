"""The scheduler role: a tick on every whole multiple of its period, until told to stop.

The schedules come from the `schedules` read model; every decision goes through the command
bus. Any number of schedulers may run side by side: a slot's run has one id, so a second
scheduler's attempt writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from adapters.scheduler.claims import claimed
from adapters.store import AppendOutcomeUnknown, StoreUnavailable
from adapters.store.reader import existing_streams
from commands.scheduler import Dispatch, DueSchedule, Scheduler, Tick
from projections.projection import live_schema
from projections.schedules import due_schedules

log = logging.getLogger(__name__)

AHEAD = timedelta(seconds=15)
"""How long before a slot its runs are built (sent with `not_before`): at the slot only their
append is left. Under a minute (the shortest period), more than a busy minute takes to build
(10,000 runs took 8 s on a loaded machine), and well under `claims.WAIT_MS`, which the other
schedulers wait on a batch held through the wait and the write before firing it themselves."""

_TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    StoreUnavailable,
    AppendOutcomeUnknown,
)


class ViewSchedules:
    """The `ScheduleBook` port, answered by the schedules read model."""

    def __init__(self, pool: asyncpg.Pool, schema: str = live_schema("schedules")) -> None:
        self._pool, self._schema = pool, schema

    async def schedules(self) -> Sequence[DueSchedule]:
        return await due_schedules(self._pool, self._schema)

    async def started_of(self, run_ids: Collection[UUID]) -> set[UUID]:
        return {UUID(s) for s in await existing_streams(self._pool, [str(r) for r in run_ids])}

    def claim(self, key: str, *, wait: bool) -> contextlib.AbstractAsyncContextManager[bool]:
        return claimed(self._pool, key, wait=wait)


def scheduler_for(
    dispatch: Dispatch,
    pool: asyncpg.Pool,
    *,
    grace_s: int,
    concurrency: int = 32,
    batch_size: int = 250,
) -> Scheduler:
    return Scheduler(
        dispatch,
        ViewSchedules(pool),
        lambda: datetime.now(UTC),
        grace=timedelta(seconds=grace_s),
        concurrency=concurrency,
        batch_size=batch_size,
        ahead=AHEAD,
    )


async def run_scheduler(scheduler: Scheduler, stop: asyncio.Event, *, tick_ms: int) -> None:
    """Tick until `stop`; a database or store outage is logged and the next tick tries again."""
    period = tick_ms / 1000
    while not stop.is_set():
        try:
            tick = await _unless_stopped(scheduler.tick(), stop)
            if tick is None:
                return
        except _TRANSIENT as error:
            log.warning("scheduler tick failed, trying again next tick: %s", error)
        else:
            if written := sum(f.written for f in tick.fired):
                log.info("scheduler fired %d run(s) of %d due slot(s)", written, len(tick.fired))
            if skipped := sum(f.written for f in tick.skipped):
                log.info("scheduler recorded %d schedule(s) with missed slots", skipped)
        with contextlib.suppress(*_TRANSIENT):
            await scheduler.prepare()  # read now, so the tick decides the moment it wakes
        # Wake on the next whole multiple of the period: a slot on the minute is seen at once.
        wait = period - time.time() % period
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


async def _unless_stopped(work: Coroutine[Any, Any, Tick], stop: asyncio.Event) -> Tick | None:
    """`work`'s result, or None once `stop` is set first (a tick cut short is safe: every
    slot it did not reach is fired by the next scheduler to tick, once)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None
