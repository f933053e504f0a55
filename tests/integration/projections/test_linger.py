"""A projection that lingers (`linger_s`): once woken from idle it waits before it reads, so
that commits landing meanwhile share its batch; what it applies is what it would have applied
one commit at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest_asyncio

from adapters.store import EventStore
from domain.envelope import EventEnvelope
from projections.runtime import Projector, lingers
from tests.integration.projections.counting import (
    Counts,
    append,
    caught_up,
    counts,
    running,
    wait_until,
)


class Batched(Counts):
    """Counts its events, and keeps each batch's positions."""

    def __init__(self, name: str, linger_s: float | None = None) -> None:
        super().__init__(name, {"Ticked"})
        if linger_s is not None:
            self.linger_s = linger_s
        self.batches: list[list[int]] = []

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        self.batches.append([e.position for e in events])
        await super().apply(conn, schema, events)


@pytest_asyncio.fixture
async def feed(fresh_database_url: str) -> AsyncIterator[tuple[EventStore, asyncpg.Pool]]:
    """The store to append with, and a pool to look at the views."""
    async with (
        EventStore(fresh_database_url, stream_types={"run"}) as store,
        asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2) as pool,
    ):
        yield store, pool


async def _three_commits_apart(store: EventStore) -> list[int]:
    positions = []
    for i in range(3):
        positions.append(await append(store, "Ticked", [f"run-{i % 2}"], 1))
        await asyncio.sleep(0.2)  # apart enough that a prompt view wakes for each, under load
    return positions


async def test_commits_while_it_lingers_share_one_batch_and_count_as_one_at_a_time(
    feed: tuple[EventStore, asyncpg.Pool], fresh_database_url: str
) -> None:
    store, pool = feed
    lingering, prompt = Batched("lingering", linger_s=1.0), Batched("prompt", linger_s=0.0)
    async with running(Projector(fresh_database_url, [lingering, prompt], linger_s=0.5)):
        for projection in (lingering, prompt):
            await wait_until(lambda p=projection: caught_up(pool, p.name), what="served")
        await asyncio.sleep(0.3)  # both idle, waiting for a commit
        positions = await _three_commits_apart(store)
        for projection in (lingering, prompt):
            await wait_until(lambda p=projection: caught_up(pool, p.name), what="applied")
    assert lingering.batches == [positions]  # the three commits, one batch
    # Its own 0 over the projector's 0.5: woken by the first commit, it does not wait for
    # the third (a busy machine may still let it find the second).
    assert len(prompt.batches) >= 2
    assert [p for batch in prompt.batches for p in batch] == positions
    assert (
        await counts(pool, "lingering") == await counts(pool, "prompt") == {"run-0": 2, "run-1": 1}
    )


def test_a_projection_s_own_linger_comes_before_the_projector_s() -> None:
    assert lingers(Batched("a", linger_s=0.25), 0.02) == 0.25
    assert lingers(Batched("b", linger_s=0), 0.02) == 0.0
    assert lingers(Batched("c"), 0.02) == 0.02
