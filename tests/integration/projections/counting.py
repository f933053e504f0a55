"""Tiny projections for the runtime's tests, and helpers to drive them, in process or not.

`Counts` counts events per stream and records every position it applied in a table whose
primary key makes applying an event twice fail loudly.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from pathlib import Path
from typing import BinaryIO

import asyncpg

from adapters.store import EventStore, NewEvent
from domain.envelope import EventEnvelope
from projections.projection import Projection
from projections.runtime import Projector

WAIT_S = 20.0
ROOT = Path(__file__).resolve().parents[3]


class Counts:
    """Counts the events of `types` per stream; raises on `poison` (set it to None to "fix"
    it); sleeps `delay` per batch; `on_error` is its policy for a failing event."""

    def __init__(
        self,
        name: str,
        types: Collection[str],
        *,
        version: int = 1,
        delay: float = 0.0,
        poison: str | None = None,
        applier: str = "",
        on_error: str = "quarantine",
    ) -> None:
        self.name = name
        self.on_error = on_error
        self.version = version
        self.event_types = frozenset(types)
        self.delay = delay
        self.poison = poison
        self.applier = applier

    def ddl(self, schema: str) -> str:
        return (
            f"CREATE TABLE {schema}.counts (stream_id text PRIMARY KEY, n bigint NOT NULL);"
            f"CREATE TABLE {schema}.seen (position bigint PRIMARY KEY, type text NOT NULL, "
            "applier text NOT NULL);"
        )

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        per_stream: collections.Counter[str] = collections.Counter()
        for event in events:
            if event.type == self.poison:
                raise ValueError(f"cannot count {event.type}")
            per_stream[event.stream_id] += 1
        await conn.executemany(
            f"INSERT INTO {schema}.seen (position, type, applier) VALUES ($1, $2, $3)",
            [(e.position, e.type, self.applier) for e in events],
        )
        await conn.executemany(
            f"INSERT INTO {schema}.counts AS c (stream_id, n) VALUES ($1, $2) "
            "ON CONFLICT (stream_id) DO UPDATE SET n = c.n + excluded.n",
            sorted(per_stream.items()),
        )
        if self.delay:
            # after the writes: a kill now lands in the middle of a batch
            await asyncio.sleep(self.delay)


async def append(store: EventStore, type_: str, streams: Sequence[str], each: int) -> int:
    """Append `each` events of `type_` to every stream; return the last position written."""
    last = 0
    for stream in streams:
        version = await store.stream_version(stream)
        result = await store.append(
            stream,
            "run",
            [NewEvent(type=type_, data={"i": version + i}) for i in range(each)],
            expected_version=version,
        )
        last = max(last, result.last_position)
    return last


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout: float = WAIT_S, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g}s")
        await asyncio.sleep(0.05)


async def checkpoint(conn: asyncpg.Connection | asyncpg.Pool, name: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM projection_checkpoints WHERE name = $1", name)


async def caught_up(conn: asyncpg.Connection | asyncpg.Pool, name: str) -> bool:
    row = await checkpoint(conn, name)
    head = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
    return row is not None and row["position"] >= head


async def record_checkpoint_moves(conn: asyncpg.Connection | asyncpg.Pool) -> None:
    """From now on, count each move of a checkpoint row (`checkpoint_moves`)."""
    await conn.execute(
        "CREATE TABLE test_checkpoint_moves (name text NOT NULL, position bigint NOT NULL);"
        "CREATE FUNCTION test_checkpoint_moved() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO test_checkpoint_moves VALUES (NEW.name, NEW.position); RETURN NULL; END $$;"
        "CREATE TRIGGER test_checkpoint_moved AFTER UPDATE OF position ON projection_checkpoints "
        "FOR EACH ROW WHEN (NEW.position IS DISTINCT FROM OLD.position) "
        "EXECUTE FUNCTION test_checkpoint_moved();"
    )


async def checkpoint_moves(conn: asyncpg.Connection | asyncpg.Pool, name: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM test_checkpoint_moves WHERE name = $1", name)


async def counts(conn: asyncpg.Connection | asyncpg.Pool, name: str) -> dict[str, int]:
    rows = await conn.fetch(f"SELECT stream_id, n FROM rm_{name}.counts")
    return {row["stream_id"]: row["n"] for row in rows}


async def truth(conn: asyncpg.Connection | asyncpg.Pool, types: Collection[str]) -> dict[str, int]:
    """What counting from scratch gives, straight from the events table."""
    rows = await conn.fetch(
        "SELECT stream_id, count(*) AS n FROM events WHERE type = ANY($1::text[]) "
        "GROUP BY stream_id",
        list(types),
    )
    return {row["stream_id"]: row["n"] for row in rows}


@contextlib.asynccontextmanager
async def running(projector: Projector) -> AsyncIterator[Projector]:
    """The projector running in this event loop until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(projector.run(stop), name="test-projector")
    try:
        yield projector
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


async def spawn(
    database_url: str, projection: Counts, *, batch_size: int, log: Path
) -> asyncio.subprocess.Process:
    """A projector serving `projection` in a real OS process (SIGTERM stops it cleanly)."""
    spec = json.dumps(
        {
            "url": database_url,
            "name": projection.name,
            "types": sorted(projection.event_types),
            "delay": projection.delay,
            "applier": projection.applier,
            "batch_size": batch_size,
        }
    )
    code = "from tests.integration.projections.counting import main; main()"
    with open_log(log) as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            spec,
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )


def open_log(path: Path) -> BinaryIO:
    return path.open("ab")


def read_log(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def main() -> None:
    """The child process of `spawn`."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    spec = json.loads(sys.argv[1])
    projection: Projection = Counts(
        spec["name"], spec["types"], delay=spec["delay"], applier=spec["applier"]
    )

    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        projector = Projector(
            spec["url"], [projection], owner=spec["applier"], batch_size=spec["batch_size"]
        )
        await projector.run(stop)

    asyncio.run(serve())
