"""A projection with nothing to apply from a commit: its checkpoint row moves only now and then,
and every waiter for a position still counts it as there (`projections.reached`). No checkpoint
move notifies anyone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.http.reads.consistency import view_position
from adapters.store import EventStore
from adapters.store.notifier import CHANNEL
from projections.progress import SAVE_EVERY_S
from projections.reached import LOOK_AHEAD, reached
from projections.runtime import Projector
from projections.status import projection_status
from tests.integration.projections.counting import (
    Counts,
    append,
    caught_up,
    checkpoint,
    checkpoint_moves,
    counts,
    record_checkpoint_moves,
    running,
    wait_until,
)

COMMITS = 20
OLD_CHANNEL = "flowledger_projections"
"""Where checkpoint moves were announced, before: a notifying commit holds PostgreSQL's one
notify lock through its flush to disk, which queued every view's commits behind every append's
(waiters poll `projections.reached` instead)."""


@pytest_asyncio.fixture
async def store(fresh_database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(fresh_database_url, stream_types={"run"}) as store:
        yield store


@pytest_asyncio.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4) as pool:
        yield pool


async def test_commits_it_does_not_read_move_its_row_now_and_then_yet_waiters_see_it_there(
    store: EventStore, pool: asyncpg.Pool, fresh_database_url: str
) -> None:
    projection = Counts("idle_counts", {"Ticked"})
    await record_checkpoint_moves(pool)
    async with running(Projector(fresh_database_url, [projection])):
        await append(store, "Ticked", ["run-1"], 3)
        await wait_until(lambda: caught_up(pool, projection.name), what="first events")
        await asyncio.sleep(0.2)
        before = await checkpoint_moves(pool, projection.name)
        for i in range(COMMITS):
            head = await append(store, "Other", [f"run-other-{i}"], 1)
            # Counted at once, though its row may not have moved: nothing is its to apply.
            async with pool.acquire() as conn:
                assert await view_position(conn, [projection.name]) == head

        # One move (or two, across a save's period) for all those commits, not one each.
        await wait_until(
            lambda: caught_up(pool, projection.name), timeout=SAVE_EVERY_S + 5, what="a save"
        )
        moves = await checkpoint_moves(pool, projection.name) - before
        assert 1 <= moves <= 3, moves
        (status,) = await projection_status(pool)
        assert (status.position, status.lag_events) == (head, 0)

        # An event it reads is applied at once, and its row moves with it.
        last = await append(store, "Ticked", ["run-1"], 1)
        await wait_until(
            lambda: _row_at(pool, projection.name, last), timeout=5, what="the new event"
        )
        assert await counts(pool, projection.name) == {"run-1": 4}


async def _row_at(pool: asyncpg.Pool, name: str, position: int) -> bool:
    row = await checkpoint(pool, name)
    return row is not None and row["position"] >= position


async def test_a_view_reaches_up_to_the_first_event_of_a_type_it_reads_after_its_checkpoint(
    store: EventStore, pool: asyncpg.Pool
) -> None:
    first = await append(store, "Other", ["s-1"], 3)
    read_at = await append(store, "Ticked", ["s-2"], 1)
    head = await append(store, "Other", ["s-3"], 2)
    rows = [
        ("reads_nothing_since", 1, ["Elsewhere"]),
        ("reads_ticked", 1, ["Ticked"]),
        ("past_it", read_at, ["Ticked"]),
        ("unknown_reads", 1, None),
    ]
    await pool.executemany(
        "INSERT INTO projection_checkpoints (name, version, position, state, reads) "
        "VALUES ($1, 1, $2, 'running', $3)",
        rows,
    )
    found = await reached(pool, [name for name, _, _ in rows] + ["no_row"])
    assert found == {
        "reads_nothing_since": head,
        "reads_ticked": read_at - 1,
        "past_it": head,
        "unknown_reads": 1,  # a row no projector of this kind has claimed: its checkpoint
    }
    assert first < read_at < head
    assert head < LOOK_AHEAD


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
