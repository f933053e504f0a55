"""The webhook path's views in PostgreSQL, per delivery: instructions of the backend that applies
them (callgrind), and this process's CPU for the same work, over a fixed, real feed.

    uv run python bench/callgrind_views.py --keep FOLDER [--window 48] [--warmup 10]
        [--windows 40] [--rounds 3] [--views runs,pipelines] [--profiles DIR]

FOLDER is a cluster `bench/pg_delivery_costs.py --keep FOLDER` left: its events are real
webhook deliveries (each `WebhookReceived`, then the intake's `RunRequested` and
`WebhookDeliveryProcessed`). That cluster runs here under callgrind. The feed is cut into
windows of `--window` positions (about 16 deliveries, as a live projector's batches); the
views the projector writes per delivery (runs, pipeline stats, pipelines, queues, webhook
deliveries) apply each window's events, each in a transaction opened with its checkpoint's move
and committed, as `Batches` does, into fresh tables. A backend that applies W + N windows less
one that applies the W alone, over the deliveries of the N, is what a delivery costs PostgreSQL
there (start-up, plans and caches cancel out). The client's CPU is this process's over the N
windows (the feed read and decoded before).
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg

from adapters.store.reader import read_range
from bench.pg_call_instructions import cluster_under_callgrind, instructions
from domain.envelope import EventEnvelope
from projections import checkpoints
from projections.pipeline_stats import PipelineStatsProjection
from projections.pipelines import PipelinesProjection
from projections.projection import Projection, live_schema
from projections.queues import QueuesProjection
from projections.runs import RunsProjection
from projections.webhook_deliveries import WebhookDeliveriesProjection

VIEWS: tuple[Projection, ...] = (
    RunsProjection(),
    PipelineStatsProjection(),
    PipelinesProjection(),
    QueuesProjection(),
    WebhookDeliveriesProjection(),
)
TYPES = frozenset().union(*(v.event_types for v in VIEWS))
"""Read whatever views are measured, so deliveries are counted the same."""


async def database(url: str) -> str:
    """The URL of the cluster's bench database (the one holding the events)."""
    conn = await asyncpg.connect(url)
    try:
        name = await conn.fetchval(
            "SELECT datname FROM pg_database WHERE datname LIKE 'flowledger_bench_%'"
        )
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + f"/{name}"


async def fresh_views(url: str) -> None:
    """Empty tables and checkpoint rows at 0 for every view."""
    conn = await asyncpg.connect(url)
    try:
        for view in VIEWS:
            schema = live_schema(view.name)
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
            await conn.execute(view.ddl(schema))
            await conn.execute(
                "INSERT INTO projection_checkpoints (name, version, state, position) "
                "VALUES ($1, $2, 'running', 0) ON CONFLICT (name) DO UPDATE SET position = 0",
                view.name,
                view.version,
            )
    finally:
        await conn.close()


def windows(events: list[EventEnvelope], width: int) -> list[tuple[int, int, list]]:
    """`(after, upto, events)` of each window of `width` positions."""
    top = events[-1].position
    cut = [(lo, min(lo + width, top)) for lo in range(0, top, width)]
    return [(lo, hi, [e for e in events if lo < e.position <= hi]) for lo, hi in cut]


async def apply_windows(
    conn: asyncpg.Connection, cut: list[tuple[int, int, list]], at: dict[str, int]
) -> None:
    """Each window's events, view by view, as `Batches` commits a plain batch."""
    for _, upto, events in cut:
        for view in VIEWS:
            mine = [e for e in events if e.type in view.event_types]
            if not mine:
                continue
            old = at.get(view.name, 0)
            assert await checkpoints.begin_advancing(
                conn, view.name, old, upto, wait_for_disk=False
            )
            await view.apply(conn, live_schema(view.name), mine)
            await conn.execute("COMMIT")
            at[view.name] = upto


def deliveries(cut: list[tuple[int, int, list]]) -> int:
    return sum(1 for _, _, events in cut for e in events if e.type == "WebhookReceived")


async def backend(url: str, profiles: Path, cut: list, warm: int, measured: int) -> tuple:
    """(instructions, client CPU seconds of the measured windows)."""
    await fresh_views(url)
    conn = await asyncpg.connect(url)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        at: dict[str, int] = {}
        await apply_windows(conn, cut[:warm], at)
        started = time.process_time()
        await apply_windows(conn, cut[warm : warm + measured], at)
        cpu = time.process_time() - started
    finally:
        await conn.close()
    return instructions(profiles, pid), cpu


async def measure(url: str, profiles: Path, args: argparse.Namespace) -> None:
    url = await database(url)
    conn = await asyncpg.connect(url)
    try:
        events = await read_range(conn, 0, 10**9, TYPES)
    finally:
        await conn.close()
    cut = windows(events, args.window)
    n = deliveries(cut[args.warmup : args.warmup + args.windows])
    per, cpus = [], []
    for _ in range(args.rounds):
        alone, _ = await backend(url, profiles, cut, args.warmup, 0)
        full, cpu = await backend(url, profiles, cut, args.warmup, args.windows)
        per.append((full - alone) / n)
        cpus.append(cpu / n)
    print(
        f"{n} deliveries in {args.windows} windows of {args.window} positions: PostgreSQL "
        f"{statistics.median(per) / 1000:.1f}k instructions per delivery (rounds "
        + " ".join(f"{p / 1000:.1f}k" for p in per)
        + "), client CPU ms per delivery "
        + " ".join(f"{c * 1e3:.3f}" for c in cpus)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, required=True, help="pg_delivery_costs.py's --keep")
    parser.add_argument("--window", type=int, default=48)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--windows", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--views", help="only these views, comma-separated names")
    parser.add_argument("--profiles", type=Path, help="keep the backends' profiles there")
    args = parser.parse_args()
    if args.views:
        global VIEWS
        VIEWS = tuple(v for v in VIEWS if v.name in args.views.split(","))
    work = Path(tempfile.mkdtemp(prefix="flowledger-views-"))
    profiles = work / "profiles"
    profiles.mkdir()
    copy = work / "cluster"
    subprocess.run(["cp", "-a", str(args.keep), str(copy)], check=True)  # owners kept
    try:
        with cluster_under_callgrind(copy, profiles, prepare=False) as url:
            asyncio.run(measure(url, profiles, args))
        if args.profiles:
            shutil.copytree(profiles, args.profiles, dirs_exist_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
