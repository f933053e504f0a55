"""A projector's projections sharing one range read and one idle checkpoint statement."""

from __future__ import annotations

import asyncio

import asyncpg

from adapters.store import EventStore
from adapters.store.reader import head, read_range
from projections.rebuild import NOTIFY_CHANNEL
from projections.runtime import Projector
from projections.shared_reads import SharedReads
from projections.skips import Skips
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


async def test_projections_of_one_projector_each_apply_their_own_events_exactly_once(
    pool: asyncpg.Pool, database_url: str
) -> None:
    one, two, absent = unique_id("One"), unique_id("Two"), unique_id("Absent")
    names = [unique_id("shared_") for _ in range(3)]
    views = [Counts(names[0], {one}), Counts(names[1], {one, two}), Counts(names[2], {absent})]
    prefix = unique_id("shared-")
    async with EventStore(database_url, stream_types={"run"}) as store:
        await append(store, one, [f"{prefix}-a", f"{prefix}-b"], 30)
        async with running(Projector(database_url, views, batch_size=16)):
            # Live too: commits while the projections wake together.
            for i in range(10):
                await append(store, two if i % 2 else one, [f"{prefix}-c"], 3)
            for name in names:
                await wait_until(lambda name=name: caught_up(pool, name), what=f"{name} caught up")

    # `seen` has the position as its primary key: an event applied twice would have failed.
    assert await counts(pool, names[0]) == await truth(pool, {one})
    assert await counts(pool, names[1]) == await truth(pool, {one, two})
    assert await counts(pool, names[2]) == {}
    top = await pool.fetchval("SELECT coalesce(max(position), 0) FROM events")
    for name in names:
        row = await checkpoint(pool, name)
        assert row is not None and row["position"] >= top


async def test_a_read_asked_for_meanwhile_takes_the_first_ones_answer(
    database_url: str, pool: asyncpg.Pool
) -> None:
    kind = unique_id("Shared")
    async with EventStore(database_url, stream_types={"run"}) as store:
        last = await append(store, kind, [unique_id("read-")], 5)
    reads = SharedReads({kind})
    first = await asyncpg.connect(database_url)
    second = await asyncpg.connect(database_url)
    await second.close()  # it could not read on its own
    try:
        (events, end), (taken, taken_end) = await asyncio.gather(
            reads.read(first, last - 5, last, {kind}),
            reads.read(second, last - 5, last + 99, {kind}),
        )
        expected = await read_range(first, last - 5, last, {kind})
        assert [e.position for e in events] == [e.position for e in expected]
        assert [e.position for e in taken] == [e.position for e in expected]
        assert end == taken_end == last, "it takes the range that was read, where it ends"
        none, _ = await reads.read(second, last - 5, last, {"NotThisOne"})
        assert none == []
    finally:
        await first.close()


async def test_a_failed_read_leaves_the_others_to_read_on_their_own(database_url: str) -> None:
    kind = unique_id("Shared")
    async with EventStore(database_url, stream_types={"run"}) as store:
        last = await append(store, kind, [unique_id("read-")], 3)
    reads = SharedReads({kind})
    broken = await asyncpg.connect(database_url)
    await broken.close()
    working = await asyncpg.connect(database_url)
    try:
        failed, (events, end) = await asyncio.gather(
            reads.read(broken, last - 3, last, {kind}),
            reads.read(working, last - 3, last, {kind}),
            return_exceptions=True,
        )
        assert isinstance(failed, asyncpg.InterfaceError)
        assert [e.position for e in events] == [last - 2, last - 1, last]
        assert end == last
    finally:
        await working.close()


async def test_idle_moves_asked_for_together_go_as_one_statement_and_say_which_moved(
    database_url: str, pool: asyncpg.Pool
) -> None:
    names = [unique_id("skip_") for _ in range(3)]
    for name in names:
        await pool.execute(
            "INSERT INTO projection_checkpoints (name, version, state, position) "
            "VALUES ($1, 1, 'running', 10)",
            name,
        )
    skips = Skips(NOTIFY_CHANNEL)
    conn = await asyncpg.connect(database_url)
    try:
        top = await head(conn)
        moved = await asyncio.gather(
            skips.skip(conn, names[0], 10, top + 1),
            skips.skip(conn, names[1], 10, top + 2),
            skips.skip(conn, names[2], 9, top + 3),  # moved meanwhile (a rebuild's swap)
        )
    finally:
        await conn.close()
    assert moved == [True, True, False]
    positions = [(await checkpoint(pool, name))["position"] for name in names]
    assert positions == [top + 1, top + 2, 10]


async def test_when_the_shared_statement_fails_each_moves_its_own(
    database_url: str, pool: asyncpg.Pool
) -> None:
    name = unique_id("skip_")
    await pool.execute(
        "INSERT INTO projection_checkpoints (name, version, state, position) "
        "VALUES ($1, 1, 'running', 4)",
        name,
    )
    skips = Skips(NOTIFY_CHANNEL)
    broken = await asyncpg.connect(database_url)
    await broken.close()
    working = await asyncpg.connect(database_url)
    try:
        # The batch goes on the first asker's connection, which is closed.
        failed, moved = await asyncio.gather(
            skips.skip(broken, name, 4, 5), skips.skip(working, name, 4, 6), return_exceptions=True
        )
    finally:
        await working.close()
    assert isinstance(failed, asyncpg.InterfaceError)
    assert moved is True
    assert (await checkpoint(pool, name))["position"] == 6
