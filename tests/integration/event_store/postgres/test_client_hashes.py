"""The hash chain made on the client where it knows the previous hash (migration 0021): the
chain stays sha256(previous || canonical) from the genesis hash, whichever side hashed, and the
audit's verification holds for client-hashed, server-hashed and mixed batches."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.store import EventStore, NewEvent, StreamAppend
from adapters.store.append_batch import APPEND_BATCH, AppendResult, batch_arguments
from adapters.store.encoding import GENESIS_HASH
from tests.helpers import unique_id
from tests.integration.event_store.conftest import STREAM_TYPES
from tests.integration.event_store.postgres.hashed_calls import (
    assert_chains_hold,
    pending,
    recomputed,
    stored,
)

CANONICAL, HASHES, PREV = 11, 15, 16  # append_batch's argument indexes


@pytest_asyncio.fixture
async def conn(store_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(store_url)
    yield connection
    await connection.close()


async def test_a_new_stream_is_hashed_by_the_client_which_sends_no_canonical_bytes(
    conn: asyncpg.Connection,
) -> None:
    stream = unique_id("run-")
    append = pending(stream, 0, 3, prev=GENESIS_HASH)
    arguments = batch_arguments([append])
    assert arguments[CANONICAL] == [None, None, None]
    assert arguments[PREV] == [GENESIS_HASH]

    [row] = await conn.fetch(APPEND_BATCH, *arguments)

    assert row["status"] == "ok"
    rows = (await stored(conn, [stream]))[stream]
    assert [bytes(r["hash"]) for r in rows] == [e.hash for e in append.events]
    assert row["last_hash"] == append.events[-1].hash
    await assert_chains_hold(conn, [stream])


async def test_the_server_hashes_where_the_client_sent_no_previous_hash(
    conn: asyncpg.Connection,
) -> None:
    stream = unique_id("run-")
    await conn.fetch(APPEND_BATCH, *batch_arguments([pending(stream, 0, 2, prev=GENESIS_HASH)]))
    arguments = list(batch_arguments([pending(stream, 2, 2, prev=None)]))
    assert all(c is not None for c in arguments[CANONICAL])
    # A hash without the previous one it was chained on is not taken: the server's counts.
    arguments[HASHES] = [os.urandom(32), os.urandom(32)]

    [row] = await conn.fetch(APPEND_BATCH, *arguments)

    assert (row["status"], row["to_version"]) == ("ok", 4)
    rows = (await stored(conn, [stream]))[stream]
    assert [bytes(r["hash"]) for r in rows] == recomputed(rows)
    assert row["last_hash"] == bytes(rows[-1]["hash"])
    await assert_chains_hold(conn, [stream])


async def test_a_hash_chained_on_another_head_is_refused_and_nothing_of_it_written(
    conn: asyncpg.Connection,
) -> None:
    stream, beside = unique_id("run-"), unique_id("run-")
    await conn.fetch(APPEND_BATCH, *batch_arguments([pending(stream, 0, prev=GENESIS_HASH)]))

    rows = await conn.fetch(
        APPEND_BATCH,
        *batch_arguments(
            [pending(stream, 1, 2, prev=os.urandom(32)), pending(beside, 0, prev=GENESIS_HASH)]
        ),
    )

    assert [row["status"] for row in rows] == ["prev_differs", "ok"]
    assert rows[0]["last_hash"] is None
    assert [r["version"] for r in (await stored(conn, [stream]))[stream]] == [1]
    await assert_chains_hold(conn, [stream, beside])


async def test_a_mixed_batch_of_client_and_server_hashed_appends_verifies(
    conn: asyncpg.Connection,
) -> None:
    new, known, unknown = unique_id("run-"), unique_id("run-"), unique_id("run-")
    [a, b] = await conn.fetch(
        APPEND_BATCH,
        *batch_arguments([pending(known, 0, 2, prev=None), pending(unknown, 0, prev=None)]),
    )

    rows = await conn.fetch(
        APPEND_BATCH,
        *batch_arguments(
            [
                pending(unknown, 1, 2, prev=None),
                pending(new, 0, 3, prev=GENESIS_HASH),
                pending(known, 2, 1, prev=a["last_hash"]),
            ]
        ),
    )

    assert [row["status"] for row in rows] == ["ok"] * 3
    assert b["last_hash"] == bytes((await stored(conn, [unknown]))[unknown][0]["hash"])
    await assert_chains_hold(conn, [new, known, unknown])


async def test_the_store_chains_on_what_it_wrote_or_read_and_the_audit_verifies(
    store: EventStore, store_url: str, conn: asyncpg.Connection
) -> None:
    stream = unique_id("run-")
    one = [NewEvent(type="StepStarted", data={"n": 1})]
    await store.append(stream, "run", one * 2, expected_version=0)
    # Its own answer told it the head: the next append is hashed here.
    assert store.heads.hash_at(stream, 2) == bytes(
        (await stored(conn, [stream]))[stream][1]["hash"]
    )
    await store.append(stream, "run", one, expected_version=2)
    async with EventStore(store_url, stream_types=STREAM_TYPES) as other:
        assert other.heads.hash_at(stream, 3) is None  # so the server hashes this one
        await other.append(stream, "run", one, expected_version=3)
        assert other.heads.hash_at(stream, 4) is not None
    await store.read_stream(stream)  # a read tells the head too
    assert store.heads.hash_at(stream, 4) == bytes(
        (await stored(conn, [stream]))[stream][3]["hash"]
    )
    outcomes = await store.append_many(
        [
            StreamAppend(stream_id=stream, stream_type="run", events=one, expected_version=4),
            StreamAppend(
                stream_id=unique_id("run-"), stream_type="run", events=one, expected_version=0
            ),
        ]
    )
    assert all(isinstance(o, AppendResult) for o in outcomes)
    await assert_chains_hold(conn, [stream])


async def test_a_wrong_known_head_costs_a_resend_never_a_wrong_hash(
    store: EventStore, conn: asyncpg.Connection
) -> None:
    # As after the database was emptied under a running process: same stream, same version.
    stream = unique_id("run-")
    await store.append(stream, "run", [NewEvent(type="StepStarted", data={})], expected_version=0)
    wrong = hashlib.sha256(b"another stream's history").digest()
    store.heads.forget(stream)
    store.heads.note(stream, 1, wrong)

    result = await store.append(
        stream, "run", [NewEvent(type="StepStarted", data={"n": 2})], expected_version=1
    )

    assert (result.from_version, result.to_version) == (2, 2)
    rows = (await stored(conn, [stream]))[stream]
    assert store.heads.hash_at(stream, 2) == bytes(rows[1]["hash"])
    await assert_chains_hold(conn, [stream])
