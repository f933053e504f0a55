"""A view's batch commits without waiting for the disk, unless it holds an erasure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence

import asyncpg
import pytest_asyncio

from adapters.store import EventStore, NewEvent
from domain.data_subject import subject_stream_id
from domain.envelope import EventEnvelope
from projections.erased_actors import ERASURE
from projections.runtime import Projector
from tests.helpers import unique_id
from tests.integration.projections.counting import append, caught_up, running, wait_until


class CommitModes:
    """Records, for each event, the `synchronous_commit` its batch's transaction runs under."""

    version = 1
    on_error = "quarantine"

    def __init__(self, name: str, types: Collection[str]) -> None:
        self.name = name
        self.event_types = frozenset(types)

    def ddl(self, schema: str) -> str:
        return (
            f"CREATE TABLE {schema}.modes (position bigint PRIMARY KEY, type text NOT NULL, "
            "synchronous_commit text NOT NULL);"
        )

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        mode = await conn.fetchval("SELECT current_setting('synchronous_commit')")
        await conn.executemany(
            f"INSERT INTO {schema}.modes VALUES ($1, $2, $3)",
            [(e.position, e.type, mode) for e in events],
        )


@pytest_asyncio.fixture(scope="module")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types={"run", "data_subject"}) as store:
        yield store


async def test_a_batch_waits_for_the_disk_only_when_it_holds_an_erasure(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick = unique_id("Ticked")
    prefix = unique_id("modes-")
    await append(store, tick, [f"{prefix}-1", f"{prefix}-2"], 3)
    # A subject with nothing sealed: what erasing someone unknown records.
    subject = unique_id("nobody-")
    erased = await store.append(
        str(subject_stream_id(subject)),
        "data_subject",
        [NewEvent(type=ERASURE, data={"subject_id": subject, "erased_by": "t", "reason": "t"})],
        expected_version=0,
    )
    await append(store, tick, [f"{prefix}-3"], 2)
    name = unique_id("modes_")

    # One event a batch, so the erasure's batch holds nothing else.
    async with running(Projector(database_url, [CommitModes(name, {tick, ERASURE})], batch_size=1)):
        await wait_until(lambda: caught_up(pool, name), what="catch-up")
    rows = await pool.fetch(f"SELECT position, type, synchronous_commit FROM rm_{name}.modes")

    # The feed also holds erasures that earlier tests in this database recorded: this one's
    # is found by its position, and every one of them waited for the disk.
    ticks = [r["synchronous_commit"] for r in rows if r["type"] == tick]
    assert ticks == ["off"] * 8
    assert [r["synchronous_commit"] for r in rows if r["position"] == erased.last_position] == [
        "on"
    ]
    assert {r["synchronous_commit"] for r in rows if r["type"] == ERASURE} == {"on"}
    assert {r["type"] for r in rows} == {tick, ERASURE}
