"""Audit: a long run's history over HTTP, its state as of its midpoint, and chain verification,
each timed beside the raw SQL read of the same rows in the same run.

    uv run python bench/audit.py [--events 1000000] [--run-events 10000] [--repeat 7]
    uv run python bench/audit.py --quick          # a small smoke run

Seeds ~--events events (bench/_seed.py: real runs through the command bus are the templates,
the rest is COPYed with positions, versions and hash chains exactly as the store makes them),
one of them a run of ~--run-events events (mostly log chunks). Then, each the median of
--repeat tries (after one warm-up), beside its baseline, `SELECT <envelope columns> FROM events
WHERE stream_id = $1 [AND version <= $2] ORDER BY version` decoded by asyncpg:
(1) GET /api/v1/pipeline-runs/{id}/history?format=ndjson (the whole history, one request) and
the same history in JSON pages of 1,000, on one uvicorn worker; (2) GET .../state?version=N/2;
(3) `verify_stream` of the run; (4) `verify_all` over every event, beside the same server-side
cursor reading every row with no check. Targets: history <= 2x raw read, state-as-of < 200 ms,
verification >= 100,000 events/s.

FLOWLEDGER_DATABASE_URL when set (a fresh database is made on that server), else the embedded
PostgreSQL and NATS in a temp folder.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()
ROOT = SELF.parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and bench/commands.py would shadow `commands`.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg
import httpx
import msgspec

from adapters.audit.verify import BATCH, verify_all, verify_stream
from adapters.bootstrap import open_services
from adapters.platform.admin_key import create_key
from adapters.platform.settings import Settings
from bench import _seed as seed
from bench._figures import verdict
from bench._http_load import serve

COLUMNS = (
    "position, event_id, stream_id, stream_type, version, type, schema_version, "
    "recorded_at, data, metadata, hash"
)
Timed = Callable[[], Awaitable[Any]]


async def median_ms(call: Timed, repeat: int) -> float:
    await call()  # warm-up: plans, caches, connections
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def seconds(call: Timed) -> float:
    began = time.perf_counter()
    await call()
    return time.perf_counter() - began


async def seed_events(s: Any, conn: asyncpg.Connection, args: argparse.Namespace) -> str:
    """Every event, by COPY; returns the id of the long run."""
    scripts = await seed.record_scripts(s, datetime(2026, 1, 1, tzinfo=UTC))
    history = seed.History(scripts, start=datetime(2026, 1, 2, tzinfo=UTC), projects=20)
    catalog = list(history.catalog())
    long_run = None
    for _ in range(200):  # a run whose size is the one asked, within 1 %
        play = history.new_run(args.run_events)
        size = sum(len(events) for _, events in play.commands)
        if abs(size - args.run_events) <= args.run_events / 100:
            long_run = play
            break
    assert long_run is not None, "no run of the asked size came out of the scripts"
    appends = []
    while not long_run.done:
        history.at += timedelta(seconds=1)
        appends.append(long_run.next(history.at))
    runs = max(1, (args.events - size) // 100)
    logs = seed.log_share(scripts, args.events - size, runs)
    started = time.perf_counter()
    n = await seed.copy_events(conn, chain(catalog, appends, history.play(runs, logs=logs)))
    seconds = time.perf_counter() - started
    await conn.execute("VACUUM ANALYZE events")
    print(
        f"seeded {n:,} events by COPY in {seconds:.1f} s ({n / seconds:,.0f}/s, exact hash "
        f"chains); the long run {long_run.run_id} has {size:,} events"
    )
    return long_run.run_id


async def raw_read(conn: asyncpg.Connection, run: str, upto: int | None = None) -> list:
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 "
        "AND ($2::bigint IS NULL OR version <= $2) ORDER BY version",
        run,
        upto,
    )


async def raw_cursor(conn: asyncpg.Connection) -> int:
    """Every row through the verifier's own cursor and batch size, unchecked."""
    count = 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await conn.cursor(f"SELECT {COLUMNS} FROM events ORDER BY position")
        while rows := await cursor.fetch(BATCH):
            count += len(rows)
    return count


async def over_http(args: argparse.Namespace, env: dict[str, str], run: str, key: str) -> dict:
    found: dict[str, float] = {}
    async with serve("bench.commands:server_app", env) as (port, _pid):
        base = f"http://127.0.0.1:{port}/api/v1/pipeline-runs/{run}"
        async with httpx.AsyncClient(headers={"X-API-Key": key}, timeout=120) as client:

            async def ndjson() -> None:
                lines = 0
                async with client.stream("GET", f"{base}/history?format=ndjson") as response:
                    response.raise_for_status()
                    async for chunk in response.aiter_bytes():
                        lines += chunk.count(b"\n")
                assert lines >= args.run_events * 0.99, lines

            async def pages() -> None:
                cursor: str | None = None
                while True:
                    params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
                    response = await client.get(f"{base}/history", params=params)
                    response.raise_for_status()
                    cursor = msgspec.json.decode(response.content)["next_cursor"]
                    if cursor is None:
                        return

            async def state() -> None:
                response = await client.get(f"{base}/state", params={"version": args.mid})
                response.raise_for_status()

            found["ndjson"] = await median_ms(ndjson, args.repeat)
            found["pages"] = await median_ms(pages, args.repeat)
            found["state"] = await median_ms(state, args.repeat)
    return found


async def bench(args: argparse.Namespace, base: Settings, server: str, env: dict) -> None:
    url = await seed.fresh_database(server)
    conn = await asyncpg.connect(url)
    try:
        async with open_services(base, url) as s:
            run = await seed_events(s, conn, args)
            _, key = await create_key(
                s, name="bench-auditor", scopes=("audit", "read"), project_id=None,
                at=datetime.now(UTC),
            )  # fmt: skip
        size = await conn.fetchval("SELECT max(version) FROM events WHERE stream_id = $1", run)
        total = await conn.fetchval("SELECT count(*) FROM events")
        args.mid = size // 2
        raw = await median_ms(lambda: raw_read(conn, run), args.repeat)
        raw_mid = await median_ms(lambda: raw_read(conn, run, args.mid), args.repeat)
        http = await over_http(args, {**env, "FLOWLEDGER_DATABASE_URL": url}, run, key)
        verify = await median_ms(lambda: verify_stream(conn, run), args.repeat)
        everything = await verify_all(conn)
        assert everything.ok and everything.events == total, everything.breaks[:3]
        all_s = min([everything.seconds] + [(await verify_all(conn)).seconds for _ in range(2)])
        read_s = min([await seconds(lambda: raw_cursor(conn)) for _ in range(3)])
    finally:
        await conn.close()
    print(
        f"(1) the history of a run of {size:,} events:\n"
        f"    raw SQL read (asyncpg fetch)         {raw:8.1f} ms\n"
        f"    GET .../history?format=ndjson         {http['ndjson']:8.1f} ms = "
        f"{http['ndjson'] / raw:.2f} x raw\n"
        f"    GET .../history, pages of 1,000       {http['pages']:8.1f} ms = "
        f"{http['pages'] / raw:.2f} x raw\n"
        f"    target ndjson <= 2 x raw: {verdict(http['ndjson'] <= 2 * raw)}\n"
        f"(2) GET .../state?version={args.mid:,}          {http['state']:8.1f} ms "
        f"(raw read of its {args.mid:,} rows {raw_mid:.1f} ms = "
        f"{http['state'] / raw_mid:.2f} x); target < 200 ms: {verdict(http['state'] < 200)}\n"
        f"(3) verify_stream of the run            {verify:8.1f} ms = {verify / raw:.2f} x raw "
        f"({size / verify * 1000:,.0f} events/s)\n"
        f"(4) verify_all, {total:,} events        {all_s:8.2f} s = "
        f"{total / all_s:,.0f} events/s (best of 3)\n"
        f"    baseline: same cursor, no check      {read_s:8.2f} s = {total / read_s:,.0f} rows/s\n"
        f"    verify / raw read = {all_s / read_s:.2f} x; target >= 100,000 events/s: "
        f"{verdict(total / all_s >= 100_000)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--run-events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.events, args.run_events, args.repeat = 60_000, 2_000, 3

    from bench._servers import bench_servers

    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    with bench_servers() as (base, urls, env):
        # bench.commands:server_app serves api_app
        env["BENCH_VARIANT"] = "flowledger"
        asyncio.run(bench(args, base, urls.database_url, env))
    print(f"load average {os.getloadavg()[0]:.2f} at the end (a shared machine: see above)")


if __name__ == "__main__":
    main()
