"""Rebuilding a projection while its owner keeps applying and queries keep reading it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from adapters.store import EventStore
from projections.checkpoints import rebuild_key
from projections.rebuild import RebuildFailed, RebuildInProgress, rebuild
from projections.runtime import Projector
from tests.helpers import unique_id
from tests.integration.projections.counting import (
    Counts,
    append,
    caught_up,
    checkpoint,
    counts,
    running,
    truth,
    wait_until,
)

# One statement, one snapshot: the checkpoint and the rows it vouches for.
CONSISTENT_READ = """
SELECT (SELECT position FROM projection_checkpoints WHERE name = $1) AS position,
       (SELECT coalesce(sum(n), 0) FROM rm_{name}.counts) AS total,
       (SELECT count(*) FROM events WHERE type = $2
           AND position <= (SELECT position FROM projection_checkpoints WHERE name = $1)) AS due
"""


@pytest_asyncio.fixture(scope="module")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types={"run"}) as store:
        yield store


async def test_queries_see_a_complete_view_before_during_and_after_a_rebuild(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick = unique_id("Ticked")
    prefix = unique_id("rebuilt-")
    await append(store, tick, [f"{prefix}-{i}" for i in range(10)], 150)
    name = unique_id("counts_")
    live = Counts(name, {tick})
    seen: list[int] = []
    stop = asyncio.Event()

    async def query() -> None:
        # A connection of its own, as an API worker would have, with its statement cache.
        conn = await asyncpg.connect(database_url)
        try:
            sql = CONSISTENT_READ.format(name=name)
            while not stop.is_set():
                row = await conn.fetchrow(sql, name, tick)
                assert row["total"] == row["due"], f"a partial view: {dict(row)}"
                assert not seen or row["total"] >= seen[-1], "a view went back in time"
                seen.append(row["total"])
                await asyncio.sleep(0.002)
        finally:
            await conn.close()

    async def write() -> None:
        for i in range(30):
            await append(store, tick, [f"{prefix}-late-{i % 3}"], 5)
            await asyncio.sleep(0.02)

    async with running(Projector(database_url, [live], batch_size=50)):
        await wait_until(lambda: caught_up(pool, name), what="the live view caught up")
        reader = asyncio.create_task(query())
        writer = asyncio.create_task(write())
        try:
            # Small, slow batches: the rebuild overlaps many queries and live batches.
            shadow = Counts(name, {tick}, delay=0.02)
            report = await rebuild(database_url, shadow, batch_size=100)
            await writer
            await wait_until(lambda: caught_up(pool, name), what="the live view caught up again")
        finally:
            stop.set()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            await reader  # raises the reader's assertion, if any

        assert await counts(pool, name) == await truth(pool, {tick})
        row = await checkpoint(pool, name)
        assert (row["version"], row["state"]) == (1, "running")
        assert row["position"] >= report.position
        assert report.applied >= 1500 and report.events >= report.applied

    assert len(seen) > 10 and seen[0] >= 1500
    leftovers = await pool.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname IN ($1, $2)",
        f"rm_{name}__next",
        f"rm_{name}__old",
    )
    assert leftovers == []


async def test_a_rebuild_of_a_projection_never_served_builds_it(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick = unique_id("Ticked")
    await append(store, tick, [unique_id("fresh-")], 40)
    name = unique_id("counts_")

    report = await rebuild(pool, Counts(name, {tick}))

    assert await counts(pool, name) == await truth(pool, {tick})
    row = await checkpoint(pool, name)
    assert (row["position"], row["state"], row["owner"]) == (report.position, "stopped", None)


async def test_one_rebuild_at_a_time(pool: asyncpg.Pool, database_url: str) -> None:
    name = unique_id("counts_")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", rebuild_key(name))
        with pytest.raises(RebuildInProgress):
            await rebuild(pool, Counts(name, {"Nothing"}))
    finally:
        await conn.close()


async def test_a_stopping_rebuild_that_meets_a_poison_event_names_it_and_leaves_the_live_view(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick, poison = unique_id("Ticked"), unique_id("Poisoned")
    stream = [unique_id("poisoned-")]
    await append(store, tick, stream, 5)
    poison_at = await append(store, poison, stream, 1)
    name = unique_id("counts_")
    async with running(Projector(database_url, [Counts(name, {tick, poison})])):
        await wait_until(lambda: caught_up(pool, name), what="the live view caught up")

        with pytest.raises(RebuildFailed) as failed:
            await rebuild(pool, Counts(name, {tick, poison}, poison=poison, on_error="stop"))

        assert failed.value.position == poison_at
        assert "ValueError: cannot count" in failed.value.error
        assert await counts(pool, name) == {stream[0]: 6}
        assert (await checkpoint(pool, name))["state"] == "running"
    assert not await pool.fetchval(
        "SELECT count(*) FROM pg_namespace WHERE nspname = $1", f"rm_{name}__next"
    )
