"""append_batch judges its appends before it takes the append lock (migration 0014): what
commits between that judgement and the lock must be seen, and judged again under the lock.

Each test holds the append lock on one connection, lets a batch on another connection judge
and then wait for the lock, commits a competing append while holding it, and checks the
batch's answer: what the function answers itself, not what the writer's one-by-one retry
of a failed batch would make of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.store.append_batch import APPEND_BATCH
from tests.helpers import unique_id
from tests.integration.event_store.postgres.batch_calls import batch_of

APPEND_LOCK = 7046541628735488001


def batch(*appends: tuple[str, int, str | None]) -> tuple[object, ...]:
    """append_batch's arguments for (stream, expected version, idempotency key) appends of one
    event each."""
    return batch_of(*((stream, expected, key, ["RunStarted"]) for stream, expected, key in appends))


@pytest_asyncio.fixture
async def two(store_url: str) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    holder, waiter = await asyncpg.connect(store_url), await asyncpg.connect(store_url)
    yield holder, waiter
    await holder.close()
    await waiter.close()


async def racing(two, competing: tuple[object, ...], waiting: tuple[object, ...]):
    """`waiting` judged, then blocked on the lock while `competing` commits; both answers."""
    holder, waiter = two
    transaction = holder.transaction()
    await transaction.start()
    await holder.execute("SELECT pg_advisory_xact_lock($1)", APPEND_LOCK)
    answer = asyncio.create_task(waiter.fetch(APPEND_BATCH, *waiting))
    # Wait until the waiter is blocked on the lock: it has judged by then.
    for _ in range(200):
        blocked = await holder.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        if blocked:
            break
        await asyncio.sleep(0.01)
    assert blocked, "the batch never waited for the lock"
    first = await holder.fetch(APPEND_BATCH, *competing)  # the lock is re-entrant
    await transaction.commit()
    return first, await answer


async def test_an_append_to_the_same_stream_meanwhile_is_a_conflict(two) -> None:
    stream = unique_id("run-")
    first, second = await racing(two, batch((stream, 0, None)), batch((stream, 0, None)))

    assert first[0]["status"] == "ok"
    assert (second[0]["status"], second[0]["actual_version"]) == ("conflict", 1)


async def test_a_key_stored_meanwhile_for_another_stream_is_reused(two) -> None:
    key = unique_id("key-")
    ours, theirs = unique_id("run-"), unique_id("run-")
    first, second = await racing(two, batch((theirs, 0, key)), batch((ours, 0, key)))

    assert first[0]["status"] == "ok"
    assert (second[0]["status"], second[0]["detail"]) == ("key_reused", theirs)


async def test_other_streams_meanwhile_leave_the_batch_as_judged_and_positions_gapless(
    two,
) -> None:
    a, b, c = unique_id("run-"), unique_id("run-"), unique_id("run-")
    first, second = await racing(two, batch((a, 0, None)), batch((b, 0, None), (c, 0, None)))

    assert [row["status"] for row in second] == ["ok", "ok"]
    positions = [first[0]["last_position"], second[0]["first_position"], second[1]["last_position"]]
    assert positions == [positions[0], positions[0] + 1, positions[0] + 2]


async def test_our_stream_among_several_committed_meanwhile_is_a_conflict(two) -> None:
    # The check under the lock reads every position committed since the judging (0015): ours
    # may be anywhere among them, here the last of four.
    ours, others = unique_id("run-"), [unique_id("run-") for _ in range(3)]
    competing = batch(*((s, 0, None) for s in others), (ours, 0, None))
    first, second = await racing(
        two, competing, batch((unique_id("run-"), 0, None), (ours, 0, None))
    )

    assert [row["status"] for row in first] == ["ok"] * 4
    assert [row["status"] for row in second] == ["ok", "conflict"]
    assert second[0]["first_position"] == first[3]["last_position"] + 1


def guarded(stream: str, guards: list[tuple[str, int]]) -> tuple[object, ...]:
    """append_batch's arguments for one new stream's append, guarded by `guards`."""
    arguments = list(batch((stream, 0, None)))
    arguments[12:] = [[1] * len(guards), [s for s, _ in guards], [v for _, v in guards]]
    return tuple(arguments)


async def test_a_guard_moved_meanwhile_is_judged_again_under_the_lock(two) -> None:
    read, ours = unique_id("run-"), unique_id("run-")
    await two[0].fetch(APPEND_BATCH, *batch((read, 0, None)))

    first, second = await racing(two, batch((read, 1, None)), guarded(ours, [(read, 1)]))

    assert first[0]["status"] == "ok"
    assert (second[0]["status"], second[0]["detail"], second[0]["actual_version"]) == (
        "guard_moved",
        read,
        2,
    )
    assert await two[0].fetchval("SELECT count(*) FROM events WHERE stream_id = $1", ours) == 0


async def test_a_guard_left_alone_meanwhile_stays_as_judged(two) -> None:
    read, ours = unique_id("run-"), unique_id("run-")
    await two[0].fetch(APPEND_BATCH, *batch((read, 0, None)))

    first, second = await racing(
        two, batch((unique_id("run-"), 0, None)), guarded(ours, [(read, 1)])
    )

    assert [first[0]["status"], second[0]["status"]] == ["ok", "ok"]
