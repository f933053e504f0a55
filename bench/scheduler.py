"""Schedules at scale: 10,000 schedules due in the same minute, fired by two scheduler
processes, beside the same 10,000 run requests sent straight through the command bus.

    uv run python bench/scheduler.py [--schedules 10000] [--schedulers 2]

Seeds one project with N pipelines, each with one daily schedule trigger due at the same
minute `--lead` minutes ahead (`M H * * *`), and a `flowledger projector` process for the
schedules view. The baseline then dispatches N `TriggerRun` commands (the same commands a
scheduler sent one by one before batching, for an old slot) from this process, 32 at a time,
all requested at one instant: its "lag" is when each one committed. A second baseline sends
the same requests as the schedulers now do: `TriggerScheduledRuns` of 250 slots, two at a
time. Then `--schedulers` `flowledger scheduler` processes start, with nothing due until the
slot. Their fire lag is each run's `events.recorded_at` minus the slot; a slot fired twice
would be two RunRequested of one (pipeline, slot), a missed one a pipeline without any.
Target: p99 lag < 1 s, 0 and 0. `recorded_at` is stamped as the store takes an append,
before its transaction commits, so the bench also polls for the runs (every 0.1 s) and shows
when each was first seen committed: what a reader sees, with the same target.

Uses FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL when set, else embedded servers in a temp
folder (bench/_servers.py).
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and this file would shadow the `commands` package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg
import msgspec

from adapters.bootstrap import open_services
from adapters.platform.services import Services
from adapters.store.migrations import migrate
from bench._figures import pct, verdict
from bench._servers import bench_servers
from commands import pipelines, projects, runs, scheduled_runs
from commands.context import CommandContext, Principal
from commands.scheduler import SCHEDULER, slot_key
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec

CONCURRENCY = 32
ADMIN = Principal(id="bench", name="bench", project_id=None, scopes=frozenset({"admin"}))
OLD_SLOT = datetime(2000, 1, 1, tzinfo=UTC)
OLDER_SLOT = datetime(1999, 1, 1, tzinfo=UTC)
BATCH = 250
POLL_S = 0.1
"""As a scheduler batches its due slots (`Scheduler(batch_size=...)`)."""


def context(principal: Principal = ADMIN, key: str | None = None) -> CommandContext:
    return CommandContext(
        principal=principal,
        at=datetime.now(UTC),
        correlation_id=str(uuid.uuid4()),
        idempotency_key=key,
    )


async def bounded(n: int, make, *, concurrency: int = CONCURRENCY) -> list[float]:
    """Run `make(i)` for i < n, `concurrency` at a time; each one's completion, from the start."""
    limit, start = asyncio.Semaphore(concurrency), time.perf_counter()

    async def one(i: int) -> float:
        async with limit:
            await make(i)
            return time.perf_counter() - start

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def seed(services: Services, n: int, cron: str) -> list[uuid.UUID]:
    bus = services.bus.dispatch
    project = await bus(projects.CreateProject(name="bench", slug="bench"), context())
    definition = PipelineDefinition(
        name="scheduled",
        steps=(StepSpec(name="build", run="make"),),
        triggers=(TriggerSpec(source="schedule", cron=cron, schedule="bench"),),
    )
    ids: list[uuid.UUID] = [uuid.UUID(int=0)] * n

    async def create(i: int) -> None:
        command = pipelines.CreatePipeline(
            project_id=uuid.UUID(project.id),
            definition=msgspec.structs.replace(definition, name=f"scheduled-{i}"),
        )
        ids[i] = uuid.UUID((await bus(command, context())).id)

    await bounded(n, create, concurrency=64)
    return ids


async def direct_baseline(services: Services, ids: list[uuid.UUID]) -> list[float]:
    """The same run requests, straight through the bus: when each committed, from one instant."""

    async def request(i: int) -> None:
        command = runs.TriggerRun(
            pipeline_id=ids[i], kind="schedule", schedule="bench", slot=OLD_SLOT
        )
        await services.bus.dispatch(
            command, context(SCHEDULER, slot_key(ids[i], "bench", OLD_SLOT))
        )

    return await bounded(len(ids), request)


async def batched_baseline(services: Services, ids: list[uuid.UUID]) -> list[float]:
    """The same run requests as the schedulers send them (`TriggerScheduledRuns`, BATCH at a
    time, two in flight), for another old slot: when each batch committed, from one instant."""
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
    done: list[float] = []

    async def request(i: int) -> None:
        slots = tuple(
            scheduled_runs.ScheduledSlot(pipeline_id=p, schedule="bench", slot=OLDER_SLOT)
            for p in batches[i]
        )
        command = scheduled_runs.TriggerScheduledRuns(slots=slots)
        await services.bus.dispatch(command, context(SCHEDULER))
        done.extend([time.perf_counter()] * len(slots))

    start = time.perf_counter()
    await bounded(len(batches), request, concurrency=2)
    return [t - start for t in done]


async def until(check, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen within {timeout_s:.0f} s")
        await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def processes(env: dict[str, str], *commands: list[str]) -> AsyncIterator[None]:
    started = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.cli.main", *command, cwd=ROOT, env=env
        )
        for command in commands
    ]
    try:
        yield
    finally:
        for proc in started:
            if proc.returncode is None:
                proc.terminate()
        for proc in started:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 30)
            if proc.returncode is None:
                proc.kill()


async def fired_at(pool: asyncpg.Pool, slot: datetime) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT data::jsonb->>'pipeline_id' AS pipeline, recorded_at FROM events"
        " WHERE type = 'RunRequested' AND data::jsonb->'trigger'->>'schedule' IS NOT NULL"
        " AND (data::jsonb->'trigger'->>'slot')::timestamptz = $1",
        slot,
    )


async def seen_at(pool: asyncpg.Pool, slot: datetime, n: int, timeout_s: float) -> list[float]:
    """When each run of `slot` was first seen committed (polled every POLL_S), from the slot:
    `recorded_at` is stamped as the store takes an append, before its transaction commits."""
    seen: list[float] = []
    after, deadline = 0, time.monotonic() + timeout_s
    while len(seen) < n and time.monotonic() < deadline:
        rows = await pool.fetch(
            "SELECT position FROM events WHERE position > $1 AND type = 'RunRequested'"
            " AND (data::jsonb->'trigger'->>'slot')::timestamptz = $2 ORDER BY position",
            after,
            slot,
        )
        lag = (datetime.now(UTC) - slot).total_seconds()
        seen += [lag] * len(rows)
        after = rows[-1]["position"] if rows else after
        await asyncio.sleep(POLL_S)
    return seen


async def main(args: argparse.Namespace) -> None:
    with bench_servers() as (settings, urls, env):
        await migrate(urls.database_url)
        env = {**env, "FLOWLEDGER_DATABASE_URL": urls.database_url}
        async with open_services(settings, urls.database_url, pool_size=10) as services:
            pool = services.store.pool
            slot = (datetime.now(UTC) + timedelta(minutes=args.lead)).replace(
                second=0, microsecond=0
            )
            t = time.perf_counter()
            ids = await seed(services, args.schedules, f"{slot.minute} {slot.hour} * * *")
            print(f"seeded {len(ids):,} scheduled pipelines in {time.perf_counter() - t:.1f} s")
            async with processes(env, ["projector"]):

                async def all_shown() -> bool:
                    try:
                        count = await pool.fetchval("SELECT count(*) FROM rm_schedules.schedules")
                    except asyncpg.UndefinedTableError:
                        return False  # the projector has yet to create its view
                    return count == len(ids)

                await until(all_shown, "the schedules view showing every schedule", 600)
                baseline = await direct_baseline(services, ids)
                batched = await batched_baseline(services, ids)
                schedulers = [["scheduler"]] * args.schedulers
                if (ahead := (slot - datetime.now(UTC)).total_seconds()) < 10:
                    raise SystemExit(f"bench: set-up overran the slot ({ahead:.0f} s): --lead more")
                async with processes(env, *schedulers):
                    print(
                        f"{args.schedulers} schedulers started; slot {slot:%H:%M}Z in {ahead:.0f} s"
                    )
                    await asyncio.sleep(max(0.0, (slot - datetime.now(UTC)).total_seconds()))

                    seen = await seen_at(pool, slot, len(ids), 600)
                    await asyncio.sleep(5)  # a late duplicate would show up by now
                rows = await fired_at(pool, slot)
    lags = [(r["recorded_at"] - slot).total_seconds() for r in rows]
    distinct = {r["pipeline"] for r in rows}
    twice, missed = len(rows) - len(distinct), len(ids) - len(distinct)
    b50, b99 = pct(baseline, 0.5), pct(baseline, 0.99)
    s50, s99 = pct(lags, 0.5), pct(lags, 0.99)
    print(f"\n{len(ids):,} schedules due at {slot:%H:%M}Z, {args.schedulers} scheduler processes")
    target = verdict(s99 < 1)
    print(f"  fire lag        p50 {s50:7.3f} s   p99 {s99:7.3f} s   (target p99 < 1 s: {target})")
    v50, v99 = pct(seen, 0.5), pct(seen, 0.99)
    print(
        f"  seen committed  p50 {v50:7.3f} s   p99 {v99:7.3f} s   (target p99 < 1 s:"
        f" {verdict(v99 < 1)}; polled every {POLL_S} s, {len(seen):,} seen)"
    )
    print(f"  fired twice     {twice}   (target 0: {verdict(twice == 0)})")
    print(f"  missed          {missed}   (target 0: {verdict(missed == 0)})")
    print(f"  baseline: the same {len(ids):,} run requests through the bus, {CONCURRENCY} at once")
    print(f"  commit time     p50 {b50:7.3f} s   p99 {b99:7.3f} s   (all {max(baseline):.3f} s)")
    print(f"  ratio (scheduled / direct)   p50 {s50 / b50:5.2f}x   p99 {s99 / b99:5.2f}x")
    m50, m99 = pct(batched, 0.5), pct(batched, 0.99)
    print(f"  baseline: the same requests as TriggerScheduledRuns, {BATCH} a command, 2 at once")
    print(f"  commit time     p50 {m50:7.3f} s   p99 {m99:7.3f} s   (all {max(batched):.3f} s)")
    print(f"  ratio (scheduled / batched)  p50 {s50 / m50:5.2f}x   p99 {s99 / m99:5.2f}x")
    print(f"  ratio (seen committed / batched)  p50 {v50 / m50:5.2f}x   p99 {v99 / m99:5.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--lead", type=int, default=6, help="minutes from start to the slot")
    asyncio.run(main(parser.parse_args()))
