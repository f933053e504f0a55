"""The projector in this process: catch-up, exactly once, wake-ups, poison events, new versions."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from adapters.store import EventStore
from adapters.store.reader import read_range
from projections.runtime import Projector
from projections.status import projection_status
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


@pytest_asyncio.fixture(scope="module")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types={"run"}) as store:
        yield store


def streams(n: int) -> list[str]:
    prefix = unique_id("count-")
    return [f"{prefix}-{i}" for i in range(n)]


async def test_it_catches_up_from_zero_and_applies_each_event_exactly_once(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick, other = unique_id("Ticked"), unique_id("Other")
    await append(store, tick, streams(5), 60)
    head = await append(store, other, streams(2), 25)  # the last events are not its own
    name = unique_id("counts_")
    projection = Counts(name, {tick}, applier="me")

    async with running(Projector(database_url, [projection], owner="me", batch_size=64)):
        await wait_until(lambda: caught_up(pool, name), what="catch-up")
        row = await checkpoint(pool, name)
        assert row["position"] >= head, "it advances past events it does not read"
        assert await counts(pool, name) == await truth(pool, {tick})
        assert await pool.fetchval(f"SELECT count(*) FROM rm_{name}.seen") == 300
        types = await pool.fetch(f"SELECT DISTINCT type FROM rm_{name}.seen")
        assert [r["type"] for r in types] == [tick]
        assert (row["state"], row["owner"], row["version"]) == ("running", "me", 1)

        # Asleep now; a new commit wakes it (the safety timeout is longer than this wait).
        more = streams(1)
        await append(store, tick, more, 7)
        await wait_until(
            lambda: _count_of(pool, name, more[0], 7), timeout=4, what="the new events applied"
        )

    row = await checkpoint(pool, name)
    assert (row["state"], row["owner"]) == ("stopped", None)


async def _count_of(pool: asyncpg.Pool, name: str, stream: str, n: int) -> bool:
    return await pool.fetchval(f"SELECT n FROM rm_{name}.counts WHERE stream_id = $1", stream) == n


async def test_under_the_stop_policy_a_poison_event_stops_its_projection_only_and_a_fix_resumes(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick, poison = unique_id("Ticked"), unique_id("Poisoned")
    stream = streams(1)
    await append(store, tick, stream, 10)
    poison_at = await append(store, poison, stream, 1)
    await append(store, tick, stream, 10)
    fussy, calm = unique_id("fussy_"), unique_id("calm_")
    broken = Counts(fussy, {tick, poison}, poison=poison, on_error="stop")
    steady = Counts(calm, {tick, poison})

    async with running(Projector(database_url, [broken, steady], batch_size=100)):
        await wait_until(lambda: _state_is(pool, fussy, "failed"), what="the poison detected")
        await wait_until(lambda: caught_up(pool, calm), what="the other projection caught up")

    failed = await checkpoint(pool, fussy)
    assert failed["error_position"] == poison_at
    assert "ValueError: cannot count" in failed["error"]
    assert failed["position"] == poison_at - 1, "the events before it are applied"
    assert await counts(pool, fussy) == {stream[0]: 10}
    assert await counts(pool, calm) == {stream[0]: 21}
    shown = {s.name: s for s in await projection_status(pool)}[fussy]
    assert (shown.state, shown.error_position, shown.lag_events > 0) == ("failed", poison_at, True)

    assert not await pool.fetchval(
        "SELECT count(*) FROM projection_quarantine WHERE projection = $1", fussy
    ), "stopping quarantines nothing"
    fixed = Counts(fussy, {tick, poison}, on_error="stop")
    async with running(Projector(database_url, [fixed])):
        await wait_until(lambda: caught_up(pool, fussy), what="the fixed projection caught up")
        resumed = await checkpoint(pool, fussy)
        assert (resumed["state"], resumed["error"], resumed["error_position"]) == (
            "running",
            None,
            None,
        )
    assert await counts(pool, fussy) == {stream[0]: 21}


async def _state_is(pool: asyncpg.Pool, name: str, state: str) -> bool:
    row = await checkpoint(pool, name)
    return row is not None and row["state"] == state


async def test_a_new_version_is_rebuilt_before_it_is_served(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick = unique_id("Ticked")
    await append(store, tick, streams(3), 20)
    name = unique_id("counts_")
    async with running(Projector(database_url, [Counts(name, {tick}, applier="v1")])):
        await wait_until(lambda: caught_up(pool, name), what="v1 caught up")

    v2 = Counts(name, {tick}, version=2, applier="v2")
    async with running(Projector(database_url, [v2])):
        await wait_until(lambda: _version_is(pool, name, 2), what="v2 built")
        await wait_until(lambda: caught_up(pool, name), what="v2 caught up")

    appliers = await pool.fetch(f"SELECT DISTINCT applier FROM rm_{name}.seen")
    assert [r["applier"] for r in appliers] == ["v2"]
    assert await counts(pool, name) == await truth(pool, {tick})
    assert not await _schemas_like(pool, f"rm_{name}__%")


async def _version_is(pool: asyncpg.Pool, name: str, version: int) -> bool:
    row = await checkpoint(pool, name)
    return row is not None and row["version"] == version and row["state"] == "running"


async def _schemas_like(pool: asyncpg.Pool, pattern: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", pattern.replace("_", r"\_")
    )
    return [r["nspname"] for r in rows]


async def test_its_envelopes_are_the_store_s(store: EventStore, pool: asyncpg.Pool) -> None:
    tick = unique_id("Ticked")
    last = await append(store, tick, streams(1), 3)

    async with pool.acquire() as conn:
        read = await read_range(conn, last - 3, last, {tick})

    assert read == await store.read_all(after_position=last - 3, limit=3)


async def test_a_new_version_that_stops_on_error_and_fails_its_rebuild_is_marked_failed(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick, poison = unique_id("Ticked"), unique_id("Poisoned")
    stream = streams(1)
    await append(store, tick, stream, 3)
    poison_at = await append(store, poison, stream, 1)
    name = unique_id("counts_")
    async with running(Projector(database_url, [Counts(name, {tick, poison})])):
        await wait_until(lambda: caught_up(pool, name), what="v1 caught up")

    v2 = Counts(name, {tick, poison}, version=2, poison=poison, on_error="stop")
    async with running(Projector(database_url, [v2])):
        await wait_until(lambda: _state_is(pool, name, "failed"), what="the failed rebuild")

    row = await checkpoint(pool, name)
    assert (row["version"], row["error_position"]) == (1, poison_at)
    assert await counts(pool, name) == {stream[0]: 4}, "v1's tables still serve"


class BadTables(Counts):
    def ddl(self, schema: str) -> str:
        return f"CREATE TABLE {schema}.counts (stream_id text PRIMARY KEY, n nonsense);"


async def test_tables_that_cannot_be_created_are_reported_and_the_others_go_on(
    store: EventStore, pool: asyncpg.Pool, database_url: str
) -> None:
    tick = unique_id("Ticked")
    await append(store, tick, streams(1), 2)
    bad, good = unique_id("bad_"), unique_id("good_")
    projector = Projector(database_url, [BadTables(bad, {tick}), Counts(good, {tick})])

    async with running(projector):
        await wait_until(lambda: _state_is(pool, bad, "failed"), what="the failure reported")
        await wait_until(lambda: caught_up(pool, good), what="the good one caught up")

    row = await checkpoint(pool, bad)
    assert 'type "nonsense" does not exist' in row["error"] and row["error_position"] is None
