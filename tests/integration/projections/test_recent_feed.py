"""One read of a range of the feed for all the projections of a process (`RecentFeed`), over
real connections: what each asks for is what `read_range` gives it, and PostgreSQL is asked
once for a range however many ask."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.store import EventStore, NewEvent
from adapters.store.reader import read_range
from projections.erased_actors import ERASURE
from projections.recent_feed import RecentFeed
from projections.runtime import Projector
from tests.integration.projections.counting import (
    Counts,
    append,
    caught_up,
    counts,
    running,
    truth,
    wait_until,
)

TYPES = frozenset({"Ticked", "Tocked"})


class Queries:
    """A real connection that counts the statements it sends."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.sent = 0
        conn.add_query_logger(self._count)

    def _count(self, _record: object) -> None:
        self.sent += 1

    async def count(self) -> int:
        """Statements sent so far (asyncpg tells its loggers soon after, not at once)."""
        await asyncio.sleep(0.05)
        return self.sent


@pytest_asyncio.fixture
async def store(fresh_database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(fresh_database_url, stream_types={"run"}) as store:
        yield store


@pytest_asyncio.fixture
async def conns(fresh_database_url: str) -> AsyncIterator[list[Queries]]:
    opened = [await asyncpg.connect(fresh_database_url) for _ in range(4)]
    try:
        yield [Queries(conn) for conn in opened]
    finally:
        for conn in opened:
            await conn.close()


async def ticks(store: EventStore, count: int) -> int:
    """`count` events, Ticked and Tocked in turn, on a few streams; the last position."""
    last = 0
    for i in range(count):
        kind = "Ticked" if i % 2 == 0 else "Tocked"
        last = await append(store, kind, [f"run-{i % 3}"], 1)
    return last


async def asked_at_once_as_read_range_answers(
    feed: RecentFeed, conns: list[Queries], asks: list[tuple[int, int, set[str]]]
) -> None:
    """Each ask `(after, upto, types)` over a connection of its own, all at once: each answer
    is what `read_range` gives (read over the first connection)."""
    answers = await asyncio.gather(
        *(feed.read(q.conn, *ask) for q, ask in zip(conns, asks, strict=True))
    )
    for (after, upto, types), answer in zip(asks, answers, strict=True):
        assert answer == await read_range(conns[0].conn, after, upto, types)


async def test_every_asker_gets_what_read_range_gives_and_postgresql_is_asked_once(
    store: EventStore, conns: list[Queries]
) -> None:
    head = await ticks(store, 12)
    feed = RecentFeed(TYPES)
    asks = [(0, head, {"Ticked"}), (0, head, {"Tocked"}), (0, head, TYPES), (0, head, TYPES)]
    await asked_at_once_as_read_range_answers(feed, conns, asks)
    assert [await q.count() for q in conns] == [1 + len(asks), 0, 0, 0]
    assert feed.reads == 1


async def test_a_range_kept_is_answered_without_postgresql_and_only_the_new_part_is_read(
    store: EventStore, conns: list[Queries]
) -> None:
    first = await ticks(store, 6)
    feed = RecentFeed(TYPES)
    one = conns[0]
    await feed.read(one.conn, 0, first, TYPES)
    sent = await one.count()
    assert await feed.read(one.conn, 2, first, {"Tocked"}) == await read_range(
        conns[1].conn, 2, first, {"Tocked"}
    )
    assert await one.count() == sent  # kept

    head = await ticks(store, 4)
    # Behind what is kept on one side, past it on the other: only the new commits are read.
    answer = await feed.read(one.conn, 3, head, TYPES)
    assert answer == await read_range(conns[1].conn, 3, head, TYPES)
    assert await one.count() == sent + 1
    assert feed.reads == 2


async def test_overlapping_asks_at_once_each_get_their_own_range(
    store: EventStore, conns: list[Queries]
) -> None:
    head = await ticks(store, 10)
    feed = RecentFeed(TYPES)
    await feed.read(conns[0].conn, 0, 4, TYPES)
    asks = [(4, head, TYPES), (3, head, TYPES), (1, head - 2, TYPES), (4, head, TYPES)]
    await asked_at_once_as_read_range_answers(feed, conns, asks)


async def test_those_waiting_for_a_read_that_failed_read_for_themselves(
    store: EventStore, conns: list[Queries]
) -> None:
    head = await ticks(store, 5)
    feed = RecentFeed(TYPES)
    broken, fine = conns[0], conns[1]
    await broken.conn.close()
    results = await asyncio.gather(
        feed.read(broken.conn, 0, head, TYPES),
        feed.read(fine.conn, 0, head, TYPES),
        return_exceptions=True,
    )
    assert isinstance(results[0], asyncpg.InterfaceError)
    assert results[1] == await read_range(conns[2].conn, 0, head, TYPES)


async def test_nothing_from_before_an_erasure_is_kept(
    store: EventStore, conns: list[Queries]
) -> None:
    before = await ticks(store, 4)
    feed = RecentFeed(TYPES)
    one = conns[0]
    await feed.read(one.conn, 0, before, TYPES)
    version = await store.stream_version("subject-1")
    erased = (
        await store.append(
            "subject-1",
            "run",
            [NewEvent(type=ERASURE, data={"subject_id": "1"})],
            expected_version=version,
        )
    ).last_position
    assert [e.type for e in await feed.read(one.conn, before, erased, {ERASURE})] == [ERASURE]
    sent = await one.count()
    # Read again, as the reader shows it now, not as it was kept.
    assert await feed.read(one.conn, 0, before, TYPES) == await read_range(
        conns[1].conn, 0, before, TYPES
    )
    assert await one.count() == sent + 1


async def test_what_is_kept_is_bounded_and_a_projection_behind_it_reads_alone(
    store: EventStore, conns: list[Queries]
) -> None:
    head = await ticks(store, 12)
    feed = RecentFeed(TYPES, kept=5)
    one = conns[0]
    await feed.read(one.conn, 0, head, TYPES)
    sent = await one.count()
    assert await feed.read(one.conn, head - 5, head, TYPES) == await read_range(
        conns[1].conn, head - 5, head, TYPES
    )
    assert await one.count() == sent
    assert await feed.read(one.conn, 0, head, TYPES) == await read_range(
        conns[1].conn, 0, head, TYPES
    )
    assert await one.count() == sent + 1


async def test_projections_woken_by_the_same_commits_share_their_reads(
    store: EventStore, fresh_database_url: str, conns: list[Queries]
) -> None:
    views = [Counts(f"shared_{i}", {"Ticked"} if i % 2 else TYPES) for i in range(6)]
    projector = Projector(fresh_database_url, views)
    commits = 20
    async with running(projector):
        for i in range(commits):
            head = await ticks(store, 1 + i % 2)
            if i % 5 == 4:
                for view in views:
                    await wait_until(lambda v=view: caught_up(conns[0].conn, v.name))
        for view in views:
            await wait_until(lambda v=view: caught_up(conns[0].conn, v.name))
    for view in views:
        assert await counts(conns[0].conn, view.name) == await truth(
            conns[0].conn, view.event_types
        )
    assert head > commits
    # Six projections, each woken by most commits: they read each range once between them
    # (a few more at start, from their own checkpoints, and when one is a commit behind).
    assert projector.feed.reads <= commits + 2 * len(views), projector.feed.reads
