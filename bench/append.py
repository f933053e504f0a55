"""Append throughput: flowledger's group-committed store against raw baselines, in one run.

    uv run python bench/append.py [--seconds 10] [--writers 16] [--rounds 4]

Uses FLOWLEDGER_DATABASE_URL when set, else starts the embedded PostgreSQL in a temp folder.
Durable throughout: fsync and synchronous_commit stay at their defaults. Beside CPU per unit it
prints how many appends (a) or rows (b) shared each WAL flush: with N closed-loop writers a
group commit can share a flush among at most N appends, and each writer then waits for its whole
batch's work as well as the flush, where a raw transaction waits for its own row's alone.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and bench/commands.py would shadow the `commands` package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg

from adapters.store import EventStore, NewEvent
from adapters.store.migrations import migrate
from bench._append_meters import BatchMeter, CpuMeter, FlushMeter, wal_flushes

PAYLOAD = {"step": "build", "exit_code": 0, "duration_ms": 1234, "runner": "linux-1"}


async def run_for(seconds: float, writers: int, one: Callable[[int], Awaitable[int]]) -> float:
    """Runs `one(writer)` in a loop on each writer until time is up; returns units per second."""
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    async def loop(n: int) -> None:
        while time.perf_counter() < deadline:
            counts[n] += await one(n)

    started = time.perf_counter()
    await asyncio.gather(*(loop(n) for n in range(writers)))
    return sum(counts) / (time.perf_counter() - started)


MAX_BATCH: dict[str, int] = {}
"""The store's own batch cap unless --max-batch is given."""


async def bench_flowledger(url: str, seconds: float, writers: int) -> float:
    async with EventStore(url, stream_types={"bench"}, **MAX_BATCH) as store:

        async def one(_n: int) -> int:
            await store.append(
                uuid.uuid4().hex,
                "bench",
                [NewEvent(type="BenchEvent", data=PAYLOAD)],
                expected_version=0,
            )
            return 1

        return await run_for(seconds, writers, one)


async def bench_raw_inserts(url: str, seconds: float, writers: int) -> float:
    conns = [await asyncpg.connect(url) for _ in range(writers)]
    try:

        async def one(n: int) -> int:
            await conns[n].execute(
                "INSERT INTO bench_raw (id, stream_id, data) VALUES ($1, $2, $3::json)",
                uuid.uuid4(),
                uuid.uuid4().hex,
                '{"step":"build","exit_code":0}',
            )
            return 1

        return await run_for(seconds, writers, one)
    finally:
        for conn in conns:
            await conn.close()


async def bench_copy(url: str, seconds: float, writers: int) -> float:
    conns = [await asyncpg.connect(url) for _ in range(writers)]
    try:

        async def one(n: int) -> int:
            rows = [
                (uuid.uuid4(), uuid.uuid4().hex, '{"step":"build","exit_code":0}')
                for _ in range(100)
            ]
            await conns[n].copy_records_to_table(
                "bench_raw", records=rows, columns=["id", "stream_id", "data"]
            )
            return 100

        return await run_for(seconds, writers, one)
    finally:
        for conn in conns:
            await conn.close()


def bench_eventsourcing(url: str, seconds: float, writers: int) -> float:
    """The eventsourcing library's own PostgreSQL recorder, one new aggregate per call."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate

    parts = urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "POSTGRES_POOL_SIZE": str(writers),
        "POSTGRES_MAX_OVERFLOW": "0",
        "CREATE_TABLE": "y",
    }
    app = Application(env=env)
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    def loop(n: int) -> None:
        while time.perf_counter() < deadline:
            app.save(Aggregate())
            counts[n] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    app.close()
    return sum(counts) / elapsed


@contextlib.contextmanager
def server_url() -> Iterator[tuple[str, int | None]]:
    """The server's URL, and its postmaster's pid when it is the embedded one started here."""
    given = os.environ.get("FLOWLEDGER_DATABASE_URL")
    if given:
        yield given, None
        return
    from adapters.platform.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="flowledger-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp))
        url = server.start()
        try:
            yield url, server.pid
        finally:
            server.stop()


async def fresh_database(server: str) -> str:
    name = f"flowledger_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(server)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE bench_raw "
            "(id uuid PRIMARY KEY, stream_id text NOT NULL, data json NOT NULL)"
        )
        settings = await conn.fetch(
            "SELECT name, setting FROM pg_settings "
            "WHERE name IN ('fsync', 'synchronous_commit', 'server_version')"
        )
        print("server:", ", ".join(f"{r['name']}={r['setting']}" for r in settings))
    finally:
        await conn.close()
    return url


async def main_async(
    args: argparse.Namespace, url: str, postmaster: int | None
) -> dict[str, float]:
    db = await fresh_database(url)
    results = {}
    cap = f", (a) in batches of at most {args.max_batch}" if args.max_batch else ""
    print(
        f"{args.writers} writers{cap}, {args.seconds:.0f} s each; (a) and (b) in {args.rounds} "
        "alternating slices (a b, b a, ...), so that the machine's load swings hit both alike"
    )
    slice_s = args.seconds / args.rounds
    rates: dict[str, list[float]] = {"a": [], "b": []}
    meters = {key: CpuMeter(postmaster) for key in "ab"}
    flushes = {key: FlushMeter() for key in "ab"}
    batches = {key: BatchMeter() for key in "ab"}
    flushed = await wal_flushes(db)
    for round_ in range(args.rounds):
        for key in "ab" if round_ % 2 == 0 else "ba":
            run = bench_flowledger if key == "a" else bench_raw_inserts
            with meters[key].measuring():
                with batches[key].measuring():
                    rate = await run(db, slice_s, args.writers)
                # the backends of the closed connections exit, and are reaped, meanwhile
                await asyncio.sleep(0.2)
            meters[key].units += rate * slice_s
            before, flushed = flushed, await wal_flushes(db)
            flushes[key].add(before, flushed, rate * slice_s)
            rates[key].append(rate)
    for key in ("a", "b"):
        results[key] = sum(rates[key]) / len(rates[key])
    slices = [f"{a / b:.2f}" for a, b in zip(rates["a"], rates["b"], strict=True)]
    print(f"(a) flowledger appends/s                     {results['a']:>10,.0f}")
    print(f"(b) raw asyncpg 1-row transactions/s         {results['b']:>10,.0f}")
    print(f"    a/b per slice: {' '.join(slices)}")
    print(f"    CPU per append (a): {meters['a'].per_unit()}; {flushes['a'].per_flush()}")
    print(f"    group commit (a): {batches['a'].per_second()}")
    print(f"    CPU per row    (b): {meters['b'].per_unit()}; {flushes['b'].per_flush()}")
    if args.ab_only:
        return results
    results["c"] = await bench_copy(db, args.seconds, args.writers)
    print(f"(c) raw COPY, 100-row batches, rows/s        {results['c']:>10,.0f}")
    results["d"] = await asyncio.to_thread(bench_eventsourcing, db, args.seconds, args.writers)
    print(f"(d) eventsourcing PostgreSQL recorder saves/s {results['d']:>9,.0f}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices of (a) and (b)")
    parser.add_argument("--ab-only", action="store_true", help="skip (c) and (d)")
    parser.add_argument(
        "--max-batch",
        type=int,
        help="events per group-commit call in (a); writers/2 keeps two batches in flight",
    )
    args = parser.parse_args()
    if args.max_batch:
        MAX_BATCH["max_batch_events"] = args.max_batch
    with server_url() as (url, postmaster):
        r = asyncio.run(main_async(args, url, postmaster))
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.ab_only:
        print(f"a/b = {r['a'] / r['b']:.2f}")
    else:
        print(
            f"a/b = {r['a'] / r['b']:.2f}   a/c = {r['a'] / r['c']:.3f}   "
            f"a/d = {r['a'] / r['d']:.2f}"
        )
    print(
        f"target a >= 15,000/s: {'met' if r['a'] >= 15000 else 'NOT met'} ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
