"""Projectors as processes: killed mid-batch, nothing is lost or repeated; a peer takes over."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from adapters.store import EventStore
from tests.helpers import unique_id
from tests.integration.projections.counting import (
    Counts,
    append,
    caught_up,
    checkpoint,
    counts,
    read_log,
    spawn,
    truth,
    wait_until,
)

EVENTS = 1500
TAKEOVER_WITHIN_S = 15.0


@pytest_asyncio.fixture(scope="module")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types={"run"}) as store:
        yield store


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "projector.log"


@contextlib.asynccontextmanager
async def reaped(*procs: asyncio.subprocess.Process) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def seen(pool: asyncpg.Pool, name: str) -> list[asyncpg.Record]:
    return await pool.fetch(f"SELECT position, applier FROM rm_{name}.seen ORDER BY position")


async def seen_count(pool: asyncpg.Pool, name: str) -> int:
    try:
        return await pool.fetchval(f"SELECT count(*) FROM rm_{name}.seen")
    except asyncpg.UndefinedTableError:
        return 0


async def test_a_projector_killed_mid_batch_resumes_without_loss_or_repeat(
    store: EventStore, pool: asyncpg.Pool, database_url: str, log: Path
) -> None:
    tick = unique_id("Ticked")
    await append(store, tick, [unique_id("killed-") for _ in range(10)], EVENTS // 10)
    name = unique_id("counts_")

    # Each batch writes its rows, then sleeps before committing: a kill lands mid-batch.
    first = await spawn(
        database_url, Counts(name, {tick}, delay=0.05, applier="first"), batch_size=50, log=log
    )
    async with reaped(first):
        await wait_until(lambda: _seen_more_than(pool, name, 100), what="first's progress")
        first.send_signal(signal.SIGKILL)
        await first.wait()
    partial = await seen_count(pool, name)
    assert 0 < partial < EVENTS, read_log(log)

    second = await spawn(
        database_url, Counts(name, {tick}, applier="second"), batch_size=50, log=log
    )
    async with reaped(second):
        await wait_until(lambda: caught_up(pool, name), what="second caught up")
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 15) == 0, read_log(log)

    rows = await seen(pool, name)
    assert len(rows) == EVENTS, "every event applied exactly once (the key forbids twice)"
    assert await counts(pool, name) == await truth(pool, {tick})
    assert {r["applier"] for r in rows} == {"first", "second"}
    row = await checkpoint(pool, name)
    assert (row["state"], row["owner"], row["error"]) == ("stopped", None, None)


async def _seen_more_than(pool: asyncpg.Pool, name: str, n: int) -> bool:
    return await seen_count(pool, name) > n


async def test_one_process_applies_and_another_takes_over_when_it_dies(
    store: EventStore, pool: asyncpg.Pool, database_url: str, log: Path
) -> None:
    tick = unique_id("Ticked")
    await append(store, tick, [unique_id("owned-") for _ in range(10)], EVENTS // 10)
    name = unique_id("counts_")
    procs = {
        who: await spawn(
            database_url, Counts(name, {tick}, delay=0.05, applier=who), batch_size=50, log=log
        )
        for who in ("a", "b")
    }
    async with reaped(*procs.values()):
        await wait_until(lambda: _seen_more_than(pool, name, 100), what="some progress")
        owner = (await checkpoint(pool, name))["owner"]
        assert owner in procs, read_log(log)
        before = await seen(pool, name)
        procs[owner].send_signal(signal.SIGKILL)
        await procs[owner].wait()
        assert {r["applier"] for r in before} == {owner}, "only the owner applies"

        other = "b" if owner == "a" else "a"
        await wait_until(
            lambda: _owned_by(pool, name, other),
            timeout=TAKEOVER_WITHIN_S,
            what=f"takeover by {other}",
        )
        await wait_until(lambda: caught_up(pool, name), what="caught up after the takeover")

    rows = await seen(pool, name)
    assert len(rows) == EVENTS
    assert await counts(pool, name) == await truth(pool, {tick})
    appliers = [r["applier"] for r in rows]
    switch = appliers.index(other)
    assert switch >= len(before)
    assert appliers == [owner] * switch + [other] * (EVENTS - switch), "one owner at a time"


async def _owned_by(pool: asyncpg.Pool, name: str, owner: str) -> bool:
    row = await checkpoint(pool, name)
    return row["owner"] == owner
