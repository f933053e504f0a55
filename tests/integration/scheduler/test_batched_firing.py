"""Due slots fired in batches (`TriggerScheduledRuns`) by schedulers on one controlled clock:
many schedules split into small batches the three contend for, and a batch the store failed
under fired again on the next tick."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from adapters.scheduler.role import ViewSchedules
from adapters.store import StoreUnavailable
from commands.bus import CommandResult
from commands.context import CommandContext
from commands.scheduled_runs import TriggerScheduledRuns
from commands.scheduler import Scheduler
from tests.integration.scheduler.conftest import (
    GRACE,
    Clock,
    OnlyThese,
    Schedulers,
    scheduled_pipeline,
    scheduled_runs,
)

pytestmark = pytest.mark.usefixtures("projector")
EVERY_MINUTE = {"source": "schedule", "cron": "* * * * *"}


def minute_after(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


async def test_three_schedulers_split_many_schedules_in_small_batches(
    client: AsyncTestClient, admin: dict[str, str], three: list[Services]
) -> None:
    pipelines = [(await scheduled_pipeline(client, admin, EVERY_MINUTE))[0] for _ in range(24)]
    start = minute_after(datetime.now(UTC))
    clock = Clock(start - timedelta(seconds=1))
    schedulers = Schedulers(three, clock, batch_size=5)  # five batches, the last of four
    for pipeline in pipelines:
        await schedulers.until_seen(pipeline)

    # Three minutes in steps of 20 s: every tick on a minute has all 24 slots due at once.
    for _ in range(9):
        clock.advance(timedelta(seconds=20))
        await schedulers.tick()

    slots = {start + timedelta(minutes=m) for m in range(3)}
    for pipeline in pipelines:
        runs = await scheduled_runs(three[0], pipeline)
        fired = Counter(datetime.fromisoformat(r["slot"]) for r in runs)
        assert fired == dict.fromkeys(slots, 1), f"pipeline {pipeline}: each slot once"
    written = [f for f in schedulers.fired if f.written]
    assert len(written) == len(pipelines) * len(slots), "no attempt past the first wrote"
    assert {f.run_id for f in written} == {f.run_id for f in schedulers.fired}, (
        "every scheduler's answer names the one run of its slot"
    )


class FailsOnce:
    """The real bus, but the first batch of runs meets a store that is down."""

    def __init__(self, services: Services) -> None:
        self.services, self.failed = services, False

    async def dispatch(self, command: object, context: CommandContext) -> CommandResult:
        if isinstance(command, TriggerScheduledRuns) and not self.failed:
            self.failed = True
            raise StoreUnavailable("the database is restarting; nothing was written")
        return await self.services.bus.dispatch(command, context)


async def test_a_batch_the_store_failed_under_is_fired_on_the_next_tick(
    client: AsyncTestClient, admin: dict[str, str], three: list[Services]
) -> None:
    pipeline, _ = await scheduled_pipeline(client, admin, EVERY_MINUTE)
    start = minute_after(datetime.now(UTC))
    clock = Clock(start - timedelta(seconds=1))
    book = OnlyThese(ViewSchedules(three[0].store.pool), {pipeline})
    bus = FailsOnce(three[0])
    scheduler = Scheduler(bus.dispatch, book, clock, grace=GRACE)
    await Schedulers(three, clock).until_seen(pipeline)
    await scheduler.tick()  # nothing due yet

    clock.advance(timedelta(seconds=1))
    with pytest.raises(StoreUnavailable):
        await scheduler.tick()
    assert await scheduled_runs(three[0], pipeline) == []
    clock.advance(timedelta(seconds=1))
    tick = await scheduler.tick()

    assert [(f.slot, f.written) for f in tick.fired] == [(start, True)]
    [run] = await scheduled_runs(three[0], pipeline)
    assert datetime.fromisoformat(run["slot"]) == start
