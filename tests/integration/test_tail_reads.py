"""Batched tail reads against the real event store: reads asked together share one query, and
no read is answered by a query sent before it was asked for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
import pytest_asyncio

from adapters.store import EventStore, NewEvent
from adapters.store.pool import open_pool
from adapters.store.tail_reads import TailReads
from domain.registry import default_registry


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types=default_registry().stream_types()) as opened:
        yield opened


async def new_stream(store: EventStore, events: int) -> str:
    stream = str(uuid4())
    batch = [NewEvent(type="project_renamed", data={"n": n}) for n in range(events)]
    await store.append(stream, "project", batch, expected_version=0)
    return stream


async def test_reads_asked_together_share_one_query_and_answer_as_a_stream_read(store):
    a, b = await new_stream(store, 3), await new_stream(store, 1)
    tails = TailReads(store.pool)

    answers = await asyncio.gather(
        tails.read(a),
        tails.read(a, from_version=3),
        tails.read(b, from_version=2),
        tails.read(str(uuid4())),
    )

    assert tails.queries == 1
    assert answers[0] == await store.read_stream(a)
    assert answers[1] == await store.read_stream(a, from_version=3)
    assert answers[2] == answers[3] == []
    assert [e.version for e in answers[0]] == [1, 2, 3]


async def test_a_read_asked_while_a_query_is_out_sees_what_was_committed_before_it(
    store, database_url
):
    stream = await new_stream(store, 1)
    pool = await open_pool(database_url, max_size=1)
    tails = TailReads(pool, max_in_flight=1)
    try:
        async with pool.acquire():  # the first batch's query waits for this connection
            early = asyncio.create_task(tails.read(stream))
            await asyncio.sleep(0.05)
            assert tails.queries == 1  # its batch is closed, its query waiting to be sent
            await store.append(
                stream, "project", [NewEvent(type="project_renamed", data={})], expected_version=1
            )
            late = asyncio.create_task(tails.read(stream))
            await asyncio.sleep(0.05)
            assert not late.done()  # not answered by the batch already closed
        assert len(await early) in (1, 2)  # sent before or after the commit: either is right
        assert [e.version for e in await late] == [1, 2]
        assert tails.queries == 2
    finally:
        await pool.close()


async def test_a_failed_query_fails_every_read_of_its_batch(database_url):
    pool = await open_pool(database_url, max_size=1)
    tails = TailReads(pool)
    await pool.close()

    reads = await asyncio.gather(
        tails.read(str(uuid4())), tails.read(str(uuid4())), return_exceptions=True
    )

    assert all(isinstance(r, Exception) for r in reads) and tails.queries == 1
    with pytest.raises(Exception):  # noqa: B017  (asyncpg's closed-pool error: any will do)
        await tails.read(str(uuid4()))
