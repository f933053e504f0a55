"""A projection's checkpoint commits notify nothing: a notifying commit holds PostgreSQL's one
notify lock through its flush to disk, which queued every view's commits behind every append's
(waiters poll `projections.reached` instead)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.store import EventStore
from adapters.store.notifier import CHANNEL
from projections.progress import SAVE_EVERY_S
from projections.runtime import Projector
from tests.integration.projections.counting import (
    Counts,
    append,
    caught_up,
    checkpoint_moves,
    record_checkpoint_moves,
    running,
    wait_until,
)

OLD_CHANNEL = "flowledger_projections"
"""Where checkpoint moves were announced."""


@pytest_asyncio.fixture
async def store(fresh_database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(fresh_database_url, stream_types={"run"}) as store:
        yield store


@pytest_asyncio.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4) as pool:
        yield pool


async def test_applied_and_skipped_batches_move_checkpoints_without_a_notification(
    store: EventStore, pool: asyncpg.Pool, fresh_database_url: str
) -> None:
    reads, skips = Counts("reads_ticks", {"Ticked"}), Counts("skips_ticks", {"Other"})
    await record_checkpoint_moves(pool)
    heard: dict[str, int] = {CHANNEL: 0, OLD_CHANNEL: 0}
    listener = await asyncpg.connect(fresh_database_url)
    for channel in heard:
        await listener.add_listener(
            channel, lambda _c, _p, ch, _n: heard.update({ch: heard[ch] + 1})
        )
    try:
        async with running(Projector(fresh_database_url, [reads, skips])):
            for i in range(5):
                await append(store, "Ticked", [f"run-{i}"], 1)
            await wait_until(lambda: caught_up(pool, reads.name), what="the applied batches")
            await wait_until(
                lambda: caught_up(pool, skips.name), timeout=SAVE_EVERY_S + 5, what="a skip"
            )
        await listener.execute("SELECT 1")  # the notifications sent before it are in
        assert await checkpoint_moves(pool, reads.name) >= 1
        assert await checkpoint_moves(pool, skips.name) >= 1
        assert heard[CHANNEL] >= 5  # the appends' own notes still go
        assert heard[OLD_CHANNEL] == 0
    finally:
        await listener.close()
