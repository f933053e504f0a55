"""Seeding for bench/projection.py: events exactly as the domain makes them, made fast.

`record_scripts` sends a few real runs through the command bus (each pipeline size, each way
a run ends) and keeps each run's events grouped by the command that made them. `History` then
plays thousands of runs from those scripts at once, interleaved as concurrent runs are, with
new ids, times, triggers, runners, metrics and log text: values change, never a type name or
a shape. `copy_events` writes what it plays with COPY, numbering positions and versions and
chaining each stream's hashes exactly as `append_batch` does; the live phase of the benchmark
sends the same commands' events through `EventStore.append` instead.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import msgspec

from adapters.platform.services import Services
from adapters.store import EventStore, NewEvent
from adapters.store.encoding import GENESIS_HASH, canonical_bytes, chain_hash, encode_metadata
from adapters.store.migrations import migrate
from adapters.store.reader import head
from bench._seed_history import Append, History, RunPlay, log_share
from bench._seed_scripts import record_scripts
from domain.envelope import EventMetadata
from domain.pipeline import Pipeline
from domain.project import Project
from domain.run import Run
from projections.catalog import by_name
from projections.runtime import Projector

__all__ = [
    "History",
    "append_live",
    "check_sample",
    "copy_events",
    "fresh_database",
    "log_share",
    "record_scripts",
    "seed_query_runs",
]

COLUMNS = (
    "position", "event_id", "stream_id", "stream_type", "version", "type", "schema_version",
    "recorded_at", "data", "metadata", "hash",
)  # fmt: skip
_encode = msgspec.json.Encoder(order="sorted").encode  # the store's canonical data bytes


async def copy_events(
    conn: asyncpg.Connection, appends: Iterable[Append], batch: int = 20000
) -> int:
    """COPY `appends` after the head (into streams no one else writes); returns the count."""
    position = start = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
    heads: dict[str, tuple[int, bytes]] = {}
    rows: list[tuple[Any, ...]] = []
    for n, a in enumerate(appends):
        meta = encode_metadata(EventMetadata(correlation_id=f"seed-{n}", actor=a.actor))
        version, prev = heads.get(a.stream_id, (0, GENESIS_HASH))
        for type_, schema_version, data in a.events:
            position, version, raw, event_id = (
                position + 1,
                version + 1,
                _encode(data),
                uuid.uuid4(),
            )
            canonical = canonical_bytes(
                event_id=event_id, stream_id=a.stream_id, stream_type=a.stream_type,
                version=version, type=type_, schema_version=schema_version, recorded_at=a.at,
                data=raw, metadata=meta,
            )  # fmt: skip
            prev = chain_hash(prev, canonical)
            rows.append((position, event_id, a.stream_id, a.stream_type, version, type_,
                         schema_version, a.at, raw.decode(), meta.decode(), prev))  # fmt: skip
        heads[a.stream_id] = (version, prev)
        if len(rows) >= batch:
            await conn.copy_records_to_table("events", records=rows, columns=COLUMNS)
            rows = []
    if rows:
        await conn.copy_records_to_table("events", records=rows, columns=COLUMNS)
    return position - start


async def check_sample(services: Services, conn: asyncpg.Connection, history: History) -> None:
    """Seeded streams load as aggregates (the registry validates every event's data)."""
    repository = services.repository
    for project in history.projects[:3]:
        await repository.get(Project, UUID(project))
    for pipeline, _, _ in history.pipelines[:5]:
        await repository.get(Pipeline, UUID(pipeline))
    rows = await conn.fetch(
        "SELECT DISTINCT ON (stream_id) stream_id FROM events WHERE stream_type = 'run' "
        "AND position > (SELECT max(position) - 20000 FROM events) LIMIT 50"
    )
    for row in rows:
        await repository.get(Run, UUID(row["stream_id"]))
    prev = GENESIS_HASH  # and one stream's hashes are what an auditor recomputes
    for e in await services.store.read_stream(rows[0]["stream_id"]):
        canonical = canonical_bytes(
            event_id=e.event_id, stream_id=e.stream_id, stream_type=e.stream_type,
            version=e.version, type=e.type, schema_version=e.schema_version,
            recorded_at=e.recorded_at, data=_encode(e.data), metadata=encode_metadata(e.metadata),
        )  # fmt: skip
        prev = chain_hash(prev, canonical)
        assert prev.hex() == e.hash, f"hash chain broken at {e.stream_id} v{e.version}"


async def append_live(
    store: EventStore, history: History, *, rate: float, seconds: float, logs: float,
    warmup: float = 2.0, concurrent: int = 200,
) -> tuple[list[tuple[int, float]], list[float], float]:  # fmt: skip
    """Appends about `rate` events/s through the store for `warmup` + `seconds`: each command's
    events one append, `concurrent` runs under way, a new run replacing each that ends.

    Returns, for the appends begun after the warm-up, (last position, commit time) in position
    order (`time.monotonic()` when the append returned: it returns once committed), their
    latencies in ms, and the events/s appended.
    """
    rng, active, busy, versions = random.Random(3), [], set(), {}
    committed: list[tuple[int, float]] = []
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    counted = sent = 0
    start = time.monotonic()
    measure_from, deadline = start + warmup, start + warmup + seconds

    async def send(play: RunPlay) -> None:
        nonlocal counted
        a = play.next(datetime.now(UTC))
        events = [NewEvent(type=t, data=d, schema_version=v) for t, v, d in a.events]
        meta = EventMetadata(correlation_id=uuid.uuid4().hex, actor=a.actor)
        began = time.monotonic()
        version = versions.get(a.stream_id, 0)
        result = await store.append(a.stream_id, "run", events, expected_version=version,
                                    metadata=meta)  # fmt: skip
        now = time.monotonic()
        versions[a.stream_id] = result.to_version
        busy.discard(a.stream_id)
        if began >= measure_from:
            committed.append((result.last_position, now))
            latencies.append((now - began) * 1000)
            counted += len(events)

    while (now := time.monotonic()) < deadline:
        while sent < rate * (now - start) and len(busy) < concurrent:
            while len(active) < concurrent:
                active.append(history.new_run(logs))
            play = rng.choice(active)
            if play.run_id in busy:
                continue
            busy.add(play.run_id)
            sent += len(play.commands[0][1])
            if len(play.commands) == 1:
                active.remove(play)  # its last command: it ends once this is appended
            task = asyncio.create_task(send(play))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    return sorted(committed), latencies, counted / seconds


async def fresh_database(server: str) -> str:
    name = f"flowledger_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    await migrate(url)
    return url


async def seed_query_runs(conn: asyncpg.Connection, url: str, history: History, want: int) -> int:
    """Runs (steps, no logs; a fifth external) until the runs view holds `want`, projected by
    the projector runtime itself catching up; returns how many runs the view holds."""
    extra = max(0, want - await conn.fetchval("SELECT count(*) FROM rm_runs.runs"))
    started = time.perf_counter()
    seeded = await copy_events(conn, history.play(extra, logs=0, external=0.2))
    seed_s = time.perf_counter() - started
    await conn.execute("VACUUM ANALYZE events")
    started, stop = time.perf_counter(), asyncio.Event()  # the runtime's own catch-up
    task = asyncio.create_task(Projector(url, [by_name("runs")], batch_size=5000).run(stop))
    top, at = (
        await head(conn),
        "SELECT position, state FROM projection_checkpoints WHERE name = 'runs'",
    )
    while (row := await conn.fetchrow(at))["position"] < top and not task.done():
        if row["state"] == "failed":
            raise SystemExit("the runs projection failed: see the log above")
        await asyncio.sleep(0.1)
    stop.set()
    await task
    catch_s = time.perf_counter() - started
    await conn.execute("VACUUM ANALYZE rm_runs.runs")  # as autovacuum would have by now
    total = await conn.fetchval("SELECT count(*) FROM rm_runs.runs")
    print(
        f"query seed: {extra:,} more runs, {seeded:,} events by COPY in {seed_s:.1f} s; the "
        f"projector runtime (runs only, batches of 5,000) caught up in {catch_s:.1f} s "
        f"({seeded / catch_s:,.0f} events/s); {total:,} runs in the view"
    )
    return total
