"""Reads that span a swap: a plain snapshot may see an empty view, `views_snapshot` never."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.store import EventStore
from projections.rebuild import rebuild
from projections.snapshot import views_snapshot
from tests.helpers import unique_id
from tests.integration.projections.counting import Counts, append

READ = "SELECT coalesce(sum(n), 0) FROM rm_{name}.counts"
POSITION = "SELECT position FROM projection_checkpoints WHERE name = $1"


@pytest_asyncio.fixture(scope="module")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types={"run"}) as store:
        yield store


async def built(store: EventStore, pool: asyncpg.Pool) -> tuple[str, str]:
    tick, name = unique_id("Ticked"), unique_id("counts_")
    await append(store, tick, [unique_id("snap-")], 20)
    await rebuild(pool, Counts(name, {tick}))
    return tick, name


async def test_a_plain_snapshot_taken_before_a_swap_reads_the_new_tables_empty(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick, name = await built(store, pool)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            position = await conn.fetchval(POSITION, name)
            await rebuild(pool, Counts(name, {tick}))
            # Resolved after the swap, read with the older snapshot: nothing is visible.
            assert position > 0 and await conn.fetchval(READ.format(name=name)) == 0
    finally:
        await conn.close()


async def test_views_snapshot_makes_the_swap_wait_and_reads_a_complete_view(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick, name = await built(store, pool)
    conn = await asyncpg.connect(database_url)
    try:
        async with views_snapshot(conn, [name]):
            swapping = asyncio.create_task(rebuild(pool, Counts(name, {tick})))
            await asyncio.sleep(0.5)
            assert not swapping.done(), "the swap waits for the reader"
            assert await conn.fetchval(READ.format(name=name)) == 20
        await asyncio.wait_for(swapping, 20)
        async with views_snapshot(conn, [name]):
            assert await conn.fetchval(READ.format(name=name)) == 20
    finally:
        await conn.close()
