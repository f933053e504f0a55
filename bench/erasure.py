"""Erasure: the history export of a run whose events carry sealed personal fields, against the
same run without, in one run of the bench.

    uv run python bench/erasure.py [--events 20000] [--repeat 7]

Two run streams of --events events each (log chunks of ~200 bytes, appended through the event
store in batches of 100, as the runner's chunks are): `plain`, whose metadata names a service
actor, and `sealed`, appended by a person (`personal_actor`), so every event's actor is sealed
under that person's data key: the worst case (a webhook-triggered run seals only its first
event). Each variant is timed exporting the run's history the way the audit routes do
(`adapters.audit.reads.batches` over `stream_reader`, encoded as NDJSON), the median of
--repeat tries after a warm-up, in alternating order. Target: sealed throughput >= 0.7 x plain.

FLOWLEDGER_DATABASE_URL when set (a fresh database is made on that server), else the embedded
PostgreSQL and NATS in a temp folder.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and bench/commands.py would shadow `commands`.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import msgspec

from adapters.audit.reads import batches, stream_reader
from adapters.bootstrap import open_services
from adapters.platform.settings import Settings
from adapters.store import NewEvent
from bench import _seed as seed
from bench._figures import verdict
from domain.envelope import EventMetadata
from domain.personal import ERASED

_lines = msgspec.json.Encoder()
PERSON = "dev-bench-committer"


async def append_run(services: object, events: int, *, personal: bool) -> str:
    store = services.store  # type: ignore[attr-defined]
    run = str(uuid.uuid4())
    metadata = EventMetadata(
        correlation_id=f"bench:{run}",
        actor=PERSON if personal else "runner:bench",
        personal_actor=personal,
    )
    version = 0
    for start in range(0, events, 100):
        batch = [
            NewEvent(
                type="LogChunkAppended",
                data={
                    "seq": seq,
                    "step": "build",
                    "stream": "stdout",
                    "text": f"line {seq}: " + "compiling module " * 10,
                    "occurred_at": datetime.now(UTC).isoformat(),
                },
            )
            for seq in range(start, min(start + 100, events))
        ]
        await store.append(run, "run", batch, expected_version=version, metadata=metadata)
        version += len(batch)
    return run


async def export_history(pool: object, run: str, upto: int) -> int:
    out = io.BytesIO()
    count = 0
    async for batch in batches(pool, stream_reader(run, upto), "version", 0):  # type: ignore[arg-type]
        out.write(_lines.encode_lines(batch))
        count += len(batch)
    return count


async def measure(events: int, repeat: int, base: Settings, server: str) -> dict[str, float]:
    """Median seconds to export the plain and the sealed run, tried alternately; `*_cpu`: this
    process's CPU seconds (PostgreSQL's work not included), steadier on a shared machine."""
    url = await seed.fresh_database(server)
    async with open_services(base, url) as services:
        runs = {
            "plain": await append_run(services, events, personal=False),
            "sealed": await append_run(services, events, personal=True),
        }
        pool = services.store.pool
        sample = await pool.fetchval(
            "SELECT metadata::text FROM events WHERE stream_id = $1 LIMIT 1", runs["sealed"]
        )
        assert PERSON not in sample, "the sealed run's actor must not be stored in clear"
        times: dict[str, list[float]] = {name: [] for name in [*runs, "plain_cpu", "sealed_cpu"]}
        for run in runs.values():  # warm-up
            assert await export_history(pool, run, events) == events
        for attempt in range(repeat):
            order = list(runs) if attempt % 2 == 0 else list(reversed(runs))
            for name in order:
                started, cpu = time.perf_counter(), time.process_time()
                await export_history(pool, runs[name], events)
                times[name].append(time.perf_counter() - started)
                times[f"{name}_cpu"].append(time.process_time() - cpu)
    return {name: statistics.median(values) for name, values in times.items()}


def report(events: int, repeat: int, figures: dict[str, float]) -> float:
    """Print the comparison; the sealed / plain throughput ratio."""
    plain, sealed = figures["plain"], figures["sealed"]
    ratio = plain / sealed
    cpu_ratio = figures["plain_cpu"] / figures["sealed_cpu"]
    print(
        f"history export of a run of {events:,} events (median of {repeat}):\n"
        f"    plain  (no personal fields)      {plain * 1000:8.1f} ms = "
        f"{events / plain:,.0f} events/s\n"
        f"    sealed (every actor sealed)      {sealed * 1000:8.1f} ms = "
        f"{events / sealed:,.0f} events/s\n"
        f"    sealed / plain throughput = {ratio:.2f} x; target >= 0.7 x: {verdict(ratio >= 0.7)}\n"
        f"    this process's CPU, plain / sealed = {cpu_ratio:.2f} x "
        "(steadier than wall time on a shared machine)\n"
        f"    (after an erasure the same values read {ERASED!r})"
    )
    return ratio


async def bench(args: argparse.Namespace, base: Settings, server: str) -> None:
    report(args.events, args.repeat, await measure(args.events, args.repeat, base, server))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from bench._servers import bench_servers

    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    with bench_servers() as (base, urls, _env):
        asyncio.run(bench(args, base, urls.database_url))
    print(f"load average {os.getloadavg()[0]:.2f} at the end (a shared machine: see above)")


if __name__ == "__main__":
    main()
