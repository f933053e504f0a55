"""A projection that writes elsewhere (`writes_elsewhere = True`, the webhook intake): its batch
is applied outside any transaction and its checkpoint then moves in one statement; a batch that
fails goes the guarded way, and a poison event is quarantined as for any projection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest_asyncio

from adapters.store import EventStore
from domain.envelope import EventEnvelope
from projections.runtime import Projector
from tests.integration.projections.counting import (
    append,
    caught_up,
    checkpoint_moves,
    record_checkpoint_moves,
    running,
    wait_until,
)


class Noted:
    """Notes each event it reads in a table of its own through its own pool, idempotently (a
    replay notes nothing twice), as a process manager's commands would; `poison` raises."""

    writes_elsewhere = True

    def __init__(self, name: str, pool: asyncpg.Pool, *, poison: str | None = None) -> None:
        self.name = name
        self.version = 1
        self.event_types = frozenset({"Ticked", "Poison"})
        self._pool = pool
        self._poison = poison
        self.in_transaction: list[bool] = []
        self.applied: list[int] = []

    def ddl(self, schema: str) -> str:
        return f"COMMENT ON SCHEMA {schema} IS 'nothing of its own'"

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        self.in_transaction.append(conn.is_in_transaction())
        for event in events:
            if event.type == self._poison:
                raise ValueError(f"cannot note {event.type}")
        await self._pool.executemany(
            "INSERT INTO test_noted (position, stream_id) VALUES ($1, $2) "
            "ON CONFLICT (position) DO NOTHING",
            [(e.position, e.stream_id) for e in events],
        )
        self.applied += [e.position for e in events]


@pytest_asyncio.fixture
async def store(fresh_database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(fresh_database_url, stream_types={"run"}) as store:
        yield store


@pytest_asyncio.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=4) as pool:
        await pool.execute(
            "CREATE TABLE test_noted (position bigint PRIMARY KEY, stream_id text NOT NULL)"
        )
        yield pool


async def _noted(pool: asyncpg.Pool) -> dict[int, str]:
    rows = await pool.fetch("SELECT position, stream_id FROM test_noted")
    return {row["position"]: row["stream_id"] for row in rows}


async def test_its_batches_apply_outside_a_transaction_and_the_checkpoint_follows(
    store: EventStore, pool: asyncpg.Pool, fresh_database_url: str
) -> None:
    projection = Noted("noted_elsewhere", pool)
    await record_checkpoint_moves(pool)
    async with running(Projector(fresh_database_url, [projection])):
        for i in range(5):
            await append(store, "Ticked", [f"run-{i}"], 2)
        await wait_until(lambda: caught_up(pool, projection.name), what="the batches")
    events = await pool.fetch("SELECT position, stream_id FROM events WHERE type = 'Ticked'")
    assert await _noted(pool) == {row["position"]: row["stream_id"] for row in events}
    assert sorted(projection.applied) == sorted(set(projection.applied))  # each once
    assert projection.in_transaction and not any(projection.in_transaction)
    assert await checkpoint_moves(pool, projection.name) >= 1


async def test_a_poison_event_is_quarantined_and_the_rest_of_its_batch_applied(
    store: EventStore, pool: asyncpg.Pool, fresh_database_url: str
) -> None:
    projection = Noted("noted_poison", pool, poison="Poison")
    await append(store, "Ticked", ["run-a"], 2)
    await append(store, "Poison", ["run-b"], 1)
    last = await append(store, "Ticked", ["run-c"], 2)
    async with running(Projector(fresh_database_url, [projection])):
        await wait_until(lambda: caught_up(pool, projection.name), what="the guarded batch")
    quarantined = await pool.fetch(
        "SELECT stream_id FROM projection_quarantine WHERE projection = $1", projection.name
    )
    assert [row["stream_id"] for row in quarantined] == ["run-b"]
    noted = await _noted(pool)
    assert sorted(set(noted.values())) == ["run-a", "run-c"]
    assert max(noted) == last
    # The first try outside a transaction failed; the guarded one ran in the batch's.
    assert projection.in_transaction[0] is False
    assert True in projection.in_transaction
