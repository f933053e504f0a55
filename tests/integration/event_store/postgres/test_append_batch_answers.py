"""What one append_batch call answers and notes, whatever its mix of appends: each ok append's
positions are its events' own, in the answer and in its idempotency key; a failed append gets
none; the commit note names every type in the batch, a failed append's included.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.store.append_batch import APPEND_BATCH
from adapters.store.commit_notes import CommitNote, parse
from tests.helpers import unique_id
from tests.integration.event_store.postgres.batch_calls import batch_of


@pytest_asyncio.fixture
async def conn(store_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(store_url)
    yield connection
    await connection.close()


async def _positions(conn: asyncpg.Connection, stream: str) -> list[int]:
    return await conn.fetchval(
        "SELECT array_agg(position ORDER BY version) FROM events WHERE stream_id = $1", stream
    )


async def test_positions_answered_and_kept_are_the_events_own(
    conn: asyncpg.Connection,
) -> None:
    taken, keyed, plain = unique_id("run-"), unique_id("run-"), unique_id("run-")
    key = unique_id("key-")
    await conn.fetch(APPEND_BATCH, *batch_of((taken, 0, None, ["RunStarted"])))

    rows = await conn.fetch(
        APPEND_BATCH,
        *batch_of(
            (taken, 0, None, ["RunStarted"]),  # a conflict ahead of the written ones
            (keyed, 0, key, ["RunStarted", "StepStarted"]),
            (plain, 0, None, ["RunStarted"]),
        ),
    )

    conflict, written, other = rows
    assert conflict["status"] == "conflict"
    assert (conflict["first_position"], conflict["last_position"]) == (None, None)
    keyed_positions, plain_positions = await _positions(conn, keyed), await _positions(conn, plain)
    assert (written["status"], written["first_position"], written["last_position"]) == (
        "ok",
        keyed_positions[0],
        keyed_positions[1],
    )
    assert (other["first_position"], other["last_position"]) == (plain_positions[0],) * 2
    assert plain_positions[0] == keyed_positions[1] + 1
    [replayed] = await conn.fetch(APPEND_BATCH, *batch_of((keyed, 0, key, ["RunStarted"])))
    assert (replayed["status"], replayed["first_position"], replayed["last_position"]) == (
        "duplicate",
        keyed_positions[0],
        keyed_positions[1],
    )


async def test_the_commit_note_names_every_type_of_the_batch(
    conn: asyncpg.Connection, store_url: str
) -> None:
    notes: list[CommitNote] = []
    listener = await asyncpg.connect(store_url)
    await listener.add_listener("flowledger_events", lambda *args: notes.append(parse(args[3])))
    taken = unique_id("run-")
    try:
        [first] = await conn.fetch(APPEND_BATCH, *batch_of((taken, 0, None, ["RunStarted"] * 2)))
        mixed = await conn.fetch(
            APPEND_BATCH,
            *batch_of(
                (unique_id("run-"), 0, None, ["RunStarted", "StepStarted"]),
                (taken, 0, None, ["RunCancelled"]),  # a conflict: its type is noted all the same
                (unique_id("run-"), 0, None, ["RunStarted"]),
            ),
        )
        for _ in range(100):
            if len([n for n in notes if n.last >= mixed[2]["last_position"]]) == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        await listener.close()

    by_first = {note.first: note for note in notes}
    assert by_first[first["first_position"]] == CommitNote(
        first["first_position"], first["last_position"], frozenset({"RunStarted"})
    )
    assert by_first[mixed[0]["first_position"]] == CommitNote(
        mixed[0]["first_position"],
        mixed[2]["last_position"],
        frozenset({"RunStarted", "StepStarted", "RunCancelled"}),
    )
