"""`Projector(gap_s=...)`: a projection's batches start at least `gap_s` apart, so the commits
of a busy spell are applied a few at a time, while one after a quiet spell is applied at once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.store import EventStore
from projections.runtime import Projector
from tests.integration.projections.counting import (
    Counts,
    append,
    caught_up,
    checkpoint_moves,
    counts,
    record_checkpoint_moves,
    running,
    truth,
    wait_until,
)

GAP_S = 2.0
COMMITS = 10


@pytest_asyncio.fixture
async def store(fresh_database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(fresh_database_url, stream_types={"run"}) as store:
        yield store


@pytest_asyncio.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4) as pool:
        yield pool


async def test_commits_close_together_are_applied_in_few_batches_each_event_once(
    store: EventStore, pool: asyncpg.Pool, fresh_database_url: str
) -> None:
    projection = Counts("gap_counts", {"Ticked"})
    await record_checkpoint_moves(pool)
    async with running(Projector(fresh_database_url, [projection], gap_s=GAP_S)):
        await wait_until(lambda: _claimed(pool, projection.name), what="the projection's claim")
        started = time.monotonic()
        for i in range(COMMITS):
            await append(store, "Ticked", [f"run-{i % 3}"], 1)
        burst_s = time.monotonic() - started
        await wait_until(lambda: caught_up(pool, projection.name), timeout=GAP_S + 20)
    assert await counts(pool, projection.name) == await truth(pool, projection.event_types)
    moves = await checkpoint_moves(pool, projection.name)
    # One batch for the first commit, then one per gap the burst lasted (without the gap:
    # about one per commit).
    assert moves <= 2 + int(burst_s / GAP_S), (moves, burst_s)


async def test_a_commit_after_a_quiet_spell_is_applied_without_waiting_for_the_gap(
    store: EventStore, pool: asyncpg.Pool, fresh_database_url: str
) -> None:
    projection = Counts("gap_quiet", {"Ticked"})
    gap_s = 60.0
    async with running(Projector(fresh_database_url, [projection], gap_s=gap_s)):
        await wait_until(lambda: _claimed(pool, projection.name), what="the projection's claim")
        await append(store, "Ticked", ["run-1"], 1)
        # Far less than the gap: the first batch does not wait for it.
        await wait_until(lambda: caught_up(pool, projection.name), timeout=gap_s / 3)
    assert await counts(pool, projection.name) == {"run-1": 1}


async def _claimed(pool: asyncpg.Pool, name: str) -> bool:
    owner = await pool.fetchval("SELECT owner FROM projection_checkpoints WHERE name = $1", name)
    return owner is not None
