"""A connection lost mid-append: the caller learns whether it was written; nothing doubles."""

from __future__ import annotations

import asyncio

import asyncpg

from adapters.store import EventStore, NewEvent
from adapters.store.append_batch import PendingAppend
from adapters.store.encoding import prepare_events
from domain.envelope import EventMetadata
from tests.helpers import unique_id

APPEND_LOCK = 7046541628735488001  # the key append_batch serialises on


async def _backend_waiting_on_the_append_lock(conn: asyncpg.Connection, timeout: float = 10) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        pid = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE '%append_batch%' AND wait_event_type = 'Lock' LIMIT 1"
        )
        if pid:
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError("no append ever waited on the append lock")


async def test_an_append_whose_connection_dies_before_commit_is_retried_once(
    store: EventStore, store_url: str
) -> None:
    stream = unique_id("run-")
    blocker = await asyncpg.connect(store_url)
    try:
        # Hold the append lock so the append is stuck inside its transaction.
        lock = blocker.transaction()
        await lock.start()
        await blocker.execute(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")
        append = asyncio.create_task(
            store.append(stream, "run", [NewEvent(type="E", data={})], expected_version=0)
        )
        killer = await asyncpg.connect(store_url)
        try:
            pid = await _backend_waiting_on_the_append_lock(killer)
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        await lock.rollback()

        result = await asyncio.wait_for(append, timeout=30)
    finally:
        await blocker.close()

    events = await store.read_stream(stream)
    assert [e.event_id for e in events] == list(result.event_ids)


async def test_an_append_that_committed_before_the_connection_died_is_reported_written(
    store: EventStore,
) -> None:
    stream = unique_id("run-")
    written = await store.append(stream, "run", [NewEvent(type="E", data={})], expected_version=0)
    stored = (await store.read_stream(stream))[0]
    # Replay the resolution the writer runs after a lost connection, for an append that did commit.
    prepared = prepare_events(
        events=[NewEvent(type="E", data={}, event_id=stored.event_id)],
        metadata=EventMetadata(),
        max_event_bytes=1024,
    )
    pending = PendingAppend(
        stream_id=stream,
        stream_type="run",
        expected_version=0,
        idempotency_key=None,
        events=prepared,
        future=asyncio.get_running_loop().create_future(),
    )

    await store._writer._resolve_after_connection_loss([pending])

    result = pending.future.result()
    assert (result.first_position, result.to_version) == (written.first_position, 1)
    assert len(await store.read_stream(stream)) == 1


async def test_appends_go_on_after_the_connections_between_batches_are_killed(
    store: EventStore, store_url: str
) -> None:
    """A flusher keeps its connection between batches that follow closely: one the server
    dropped meanwhile costs a retry on a fresh connection, never a lost or doubled append."""
    first = unique_id("run-")
    await store.append(first, "run", [NewEvent(type="E", data={})], expected_version=0)
    killer = await asyncpg.connect(store_url)
    try:
        killed = await killer.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND query LIKE '%append_batch%'"
        )
    finally:
        await killer.close()
    assert killed >= 1

    streams = [unique_id("run-") for _ in range(8)]
    results = await asyncio.gather(
        *(
            store.append(stream, "run", [NewEvent(type="E", data={})], expected_version=0)
            for stream in streams
        )
    )
    assert [r.to_version for r in results] == [1] * 8
    for stream, result in zip(streams, results, strict=True):
        assert [e.event_id for e in await store.read_stream(stream)] == list(result.event_ids)
