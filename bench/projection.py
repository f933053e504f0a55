"""Projections: rebuild rate, live lag and query latency, each beside a baseline, in one run.

    uv run python bench/projection.py [--events 1000000] [--runs 10000] [--query-runs 100000]
    uv run python bench/projection.py --quick          # a small smoke run

(1) Seeds ~--events events over --runs runs (bench/_seed.py: real runs through the command bus
are the templates; the rest is COPYed with positions, versions and hash chains as the store
makes them), rebuilds each projection of `catalog.ALL` from zero, one after another, beside
reading the events table with the same decode and no apply (`reader.read_range`, batches of 5,000).
(2) The projector runtime in a process of its own; --rate events/s appended through
`EventStore.append` for --seconds (new runs; step and log events on running ones). Lag: from an
append's return (its commit) to the NOTIFY `runs:<position>` of the runs view's commit past it
(a trigger this bench adds: checkpoints announce nothing themselves);
baseline: the store's own NOTIFY of the commit, which wakes the projector (lags clamped at 0).
(3) More runs (steps, no logs; a fifth external) until the runs view holds --query-runs, caught
up by the projector runtime; then GET /api/v1/pipeline-runs (project, statuses, branch,
order_by=started_at, cursor pages) on one uvicorn worker, beside the same `list_runs` calls on
asyncpg, and on a connection with plan_cache_mode=force_custom_plan (plans for the real values).
Targets: >= 20,000 events/s rebuild overall; live p99 < 100 ms; query p99 < 20 ms.

FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL when set (on a fresh database), else the embedded
servers in a temp folder.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
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
import msgspec

from adapters.bootstrap import open_services
from adapters.platform.admin_key import create_key
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.store.reader import head, read_range
from bench import _seed as seed
from bench._figures import pct, verdict
from bench._projection_live import live_lag
from bench._projection_queries import query_latency
from projections.catalog import ALL
from projections.rebuild import rebuild
from projections.runtime import Projector

BATCH = 5000


def quantiles(values: list[float]) -> str:
    return "  ".join(f"p{int(q * 100)} {pct(values, q):7.2f} ms" for q in (0.5, 0.95, 0.99))


# ---- (1) seed, then rebuild ----------------------------------------------------------------------


async def raw_read(conn: asyncpg.Connection, top: int, types: list[str]) -> float:
    """Events/s of reading 1..top in batches with the projections' own decode, no apply."""
    started = time.perf_counter()
    for after in range(0, top, BATCH):
        await read_range(conn, after, min(after + BATCH, top), types)
    return top / (time.perf_counter() - started)


async def seed_and_rebuild(
    args: argparse.Namespace, conn: asyncpg.Connection, url: str, history: seed.History, s: Services
) -> dict[str, Any]:
    logs = seed.log_share(history.scripts, args.events, args.runs)
    started = time.perf_counter()
    seeded = await seed.copy_events(
        conn, chain(history.catalog(), history.play(args.runs, logs=logs))
    )
    seconds = time.perf_counter() - started
    await conn.execute("VACUUM ANALYZE events")
    await seed.check_sample(s, conn, history)
    top = await head(conn)
    mix = await conn.fetch("SELECT type, count(*) n FROM events GROUP BY 1 ORDER BY 2 DESC LIMIT 5")
    print(
        f"seeded {seeded:,} events over {args.runs:,} runs by COPY in {seconds:.1f} s "
        f"({seeded / seconds:,.0f}/s, exact hash chains); {top:,} events in all: "
        + ", ".join(f"{r['type']} {r['n'] / top:.0%}" for r in mix)
    )
    types = [r["type"] for r in await conn.fetch("SELECT DISTINCT type FROM events")]
    raws = [await raw_read(conn, top, types)]
    print(f"raw read, same decode, no apply: {raws[0]:,.0f} events/s")
    reports = []
    for projection in ALL:
        r = await rebuild(url, projection, batch_size=BATCH)
        reports.append(r)
        print(
            f"  rebuilt {r.name:<19} {r.applied:>9,} applied {r.seconds:6.1f} s "
            f"{r.events_per_second:>10,.0f} events/s = {r.events_per_second / raws[0]:.2f} x raw"
        )
    raws.append(await raw_read(conn, top, types))
    total = sum(r.seconds for r in reports)
    return {"events": top, "raws": raws, "reports": reports, "total_s": total}


# ---- (2) live lag: the child process (bench/_projection_live.py starts it) -----------------------


async def projector_main(url: str) -> None:
    """The child process: the projector runtime over every projection until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await Projector(url, ALL).run(stop)


# ---- the run -------------------------------------------------------------------------------------


async def bench(
    args: argparse.Namespace, base: Settings, server: str, env: dict[str, str]
) -> dict[str, Any]:
    url = await seed.fresh_database(server)
    env = {**env, "FLOWLEDGER_DATABASE_URL": url}
    conn = await asyncpg.connect(url)
    try:
        async with open_services(msgspec.structs.replace(base, database_url=url), url) as s:
            now = datetime.now(UTC)
            _, key = await create_key(s, name="bench", scopes=("admin",), project_id=None, at=now)
            start = now - timedelta(days=90)
            scripts = await seed.record_scripts(s, start)
            history = seed.History(scripts, start=start, projects=max(3, args.runs // 500))
            r1 = await seed_and_rebuild(args, conn, url, history, s)
            r2 = await live_lag(args, url, history, s)
            r3 = await query_latency(args, conn, url, history, env, key)
    finally:
        await conn.close()
    return {"rebuild": r1, "live": r2, "query": r3}


def summary(r: dict[str, Any]) -> None:
    b, live, q = r["rebuild"], r["live"], r["query"]
    raw, overall = max(b["raws"]), b["events"] / b["total_s"]
    slow = min(b["reports"], key=lambda x: x.events_per_second)
    print(
        f"\n(1) rebuilding all {len(b['reports'])} projections from zero, one after another: "
        f"{b['events']:,} events in {b['total_s']:.1f} s = {overall:,.0f} events/s overall\n"
        f"    raw read {raw:,.0f} events/s (before / after: "
        f"{' / '.join(f'{x:,.0f}' for x in b['raws'])}); overall / raw = {overall / raw:.3f}\n"
        f"    slowest: {slow.name}, {slow.events_per_second:,.0f} events/s on its own "
        f"({slow.applied:,} applied in {slow.seconds:.1f} s) = {slow.events_per_second / raw:.2f}"
        f" x raw\n    target >= 20,000 events/s overall: {verdict(overall >= 20000)} "
        f"({os.cpu_count()} cores; the slowest alone: {verdict(slow.events_per_second >= 20000)})"
    )
    runs, floor = live["lags"]["runs"], live["lags"]["flowledger_events"]
    print(
        f"(2) live, {live['rate']:,.0f} events/s in {len(runs):,} appends (projector process "
        f"{live['cpu']:.0%} of a core, machine {live['busy']:.0%} busy); commit -> visible:\n"
        f"    runs view (NOTIFY runs:<pos>)         {quantiles(runs)}  max {max(runs):.1f} ms\n"
        f"    baseline: the commit's own NOTIFY     {quantiles(floor)}\n"
        f"    (the appends themselves took          {quantiles(live['append_ms'])})\n"
        f"    runs p99 - baseline p99 = {pct(runs, 0.99) - pct(floor, 0.99):.1f} ms; "
        f"target p99 < 100 ms: {verdict(pct(runs, 0.99) < 100)}"
    )
    http, sql, custom = (q["times"][k] for k in ("http", "sql", "custom"))
    print(
        f"(3) GET /api/v1/pipeline-runs, 3 filters + order_by=started_at, {q['runs']:,} runs:\n"
        f"    HTTP (uvicorn, 1 worker, keep-alive)  {quantiles(http)}\n"
        f"    baseline: list_runs on asyncpg        {quantiles(sql)}\n"
        f"    list_runs, force_custom_plan          {quantiles(custom)}\n"
        f"    HTTP p99 / list_runs p99 = {pct(http, 0.99) / pct(sql, 0.99):.2f}; "
        f"target p99 < 20 ms: {verdict(pct(http, 0.99) < 20)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--query-runs", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="live events/s")
    parser.add_argument("--seconds", type=float, default=15.0, help="live, measured")
    parser.add_argument("--requests", type=int, default=600, help="timed queries per side")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--projector", metavar="URL", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.projector:
        asyncio.run(projector_main(args.projector))
        return
    if args.quick:
        args.events, args.runs, args.query_runs, args.seconds, args.requests = (
            60_000, 600, 3_000, 5.0, 150
        )  # fmt: skip

    from bench._servers import bench_servers

    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    with bench_servers() as (base, urls, env):
        # bench.commands:server_app serves api_app
        env["BENCH_VARIANT"] = "flowledger"
        results = asyncio.run(bench(args, base, urls.database_url, env))
    summary(results)


if __name__ == "__main__":
    main()
