"""Randomized: many runs driven concurrently, projected live in batches of random sizes as the
events arrive; a from-scratch projection in one batch then equals the live one row for row,
and the live one agrees with the aggregates themselves."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from commands import run_reports, runs
from commands.run_reports import LogChunk
from domain.errors import DomainError
from domain.run import Run
from domain.run_statuses import Provider, RunStatus, StepStatus
from domain.run_values import ExternalRef
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec
from projections.catalog import ALL
from projections.run_queries import get_run
from tests.integration.read_models.conftest import (
    Driver,
    Projected,
    apply_in_batches,
    make_schema,
    read_events,
)

RUNS = int(os.environ.get("FLOWLEDGER_TEST_RANDOM_RUNS", "100"))
STEPS = (
    StepSpec(name="checkout", run="git"),
    StepSpec(name="build", run="make", needs=("checkout",), retries=2),
    StepSpec(name="lint", run="lint", needs=("checkout",), allow_failure=True),
    StepSpec(name="test", run="test", needs=("build",), retries=1),
    StepSpec(name="deploy", run="ship", needs=("test", "lint")),
)


class Chaos:
    """Drives runs the way runners, users and outside CI systems would, at random."""

    def __init__(self, driver: Driver, rng: random.Random) -> None:
        self.driver = driver
        self.rng = rng
        self.runs: list[UUID] = []

    async def attempt(self, command: object, **kwargs) -> None:
        # A refusal is what a 409 or 422 tells a real client: the run moved on meanwhile.
        with contextlib.suppress(DomainError):
            await self.driver.send(command, **kwargs)

    async def drive(self, pipeline: UUID) -> None:
        rng = self.rng
        external = None
        if rng.random() < 0.15:
            ref = f"{rng.randrange(1000)}"
            external = ExternalRef(provider=Provider.GITLAB, external_id=ref, url="https://gl/x")
        kind = rng.choice(["api", "manual", "schedule"])
        # A scheduled run names its schedule and slot (the schedules view keeps the latest).
        slot = datetime(2026, 1, 1, rng.randrange(24), tzinfo=UTC)
        scheduled = {"schedule": "nightly", "slot": slot} if kind == "schedule" else {}
        run = await self.driver.trigger(
            pipeline,
            actor=rng.choice(["alice", "bob", "carol"]),
            kind=kind,
            ref=rng.choice([None, "refs/heads/main", "refs/heads/dev", "refs/tags/v1"]),
            external=external,
            **scheduled,
        )
        self.runs.append(run)
        for _ in range(60):
            state = await self.driver.services.repository.get(Run, run)
            if state.status.finished:
                break
            await self.act(run, state)
            await asyncio.sleep(0)
        # The domain refuses to retry an external run (it has no steps to copy).
        if external is None and state.status.finished and rng.random() < 0.3:
            retried = await self.driver.send(runs.RetryRun(run_id=run))
            await self.drive_retry(UUID(retried.id))

    async def drive_retry(self, run: UUID) -> None:
        self.runs.append(run)
        if self.rng.random() < 0.5:
            await self.attempt(runs.CancelRun(run_id=run, reason="not again"))

    async def act(self, run: UUID, state: Run) -> None:
        rng, r = self.rng, self.rng.random()
        if state.external is not None:
            status = rng.choice(["running", "running", "succeeded", "failed", "cancelled"])
            await self.attempt(run_reports.ReportRunStatus(run_id=run, status=status))
        elif r < 0.03:
            await self.attempt(runs.CancelRun(run_id=run, reason="chaos"), actor="bob")
        elif r < 0.04:
            await self.attempt(run_reports.ReportRunStatus(run_id=run, status="timed_out"))
        elif r < 0.25:
            await self.log(run, state)
        else:
            await self.step(run, state)

    async def log(self, run: UUID, state: Run) -> None:
        step = self.rng.choice([None, *state.steps])
        chunks = tuple(
            LogChunk(seq=state.next_log_seq(step) + i, step=step, text=f"line {i} of {step}\n")
            for i in range(self.rng.randint(1, 4))
        )
        await self.attempt(run_reports.AppendRunLogs(run_id=run, chunks=chunks), actor="runner-1")

    async def step(self, run: UUID, state: Run) -> None:
        rng = self.rng
        running = [s for s in state.steps.values() if s.status is StepStatus.RUNNING]
        queued = [s for s in state.steps.values() if s.status is StepStatus.QUEUED]
        ready = [state.steps[name] for name in state.ready_steps()] + queued
        if running and (not ready or rng.random() < 0.6):
            step = rng.choice(running)
            if state.status is RunStatus.CANCELLING and rng.random() < 0.7:
                outcome, extra = "cancelled", {"reason": "stopped"}
            elif rng.random() < 0.3:
                outcome, extra = "failed", {"exit_code": rng.choice([1, 2, None]), "reason": "x"}
            elif rng.random() < 0.1:
                outcome, extra = "timed_out", {}
            else:
                outcome, extra = "succeeded", {"outputs": {"n": str(rng.randrange(9))}}
            metrics = {"tokens": float(rng.randrange(100)), "cost": rng.randrange(100) / 7}
            await self.attempt(
                run_reports.ReportStepStatus(
                    run_id=run,
                    step=step.name,
                    status=outcome,
                    attempt=step.attempt,
                    metrics=metrics,
                    **extra,
                ),
                actor="runner-1",
            )
        elif ready:
            step = rng.choice(ready)
            await self.attempt(
                run_reports.ReportStepStatus(
                    run_id=run,
                    step=step.name,
                    status="running",
                    attempt=max(step.attempt, 1),
                    runner=rng.choice(["r1", "r2", None]),
                ),
                actor="runner-1",
            )


async def project_live(
    pool: asyncpg.Pool, tag: str, schemas: dict[str, str], rng: random.Random, stop: asyncio.Event
) -> int:
    """Follow the feed as it grows, each projection in batches of random sizes; return batches."""
    position, batches = 0, 0
    while True:
        stopping = stop.is_set()
        events = await read_events(pool, tag, position)
        for projection in ALL:
            sizes = (rng.randint(1, 40) for _ in iter(int, 1))
            schema = schemas[projection.name]
            batches += await apply_in_batches(pool, projection, schema, events, sizes)
        if events:
            position = events[-1].position
        if stopping:
            return batches
        await asyncio.sleep(rng.random() / 50)


async def table_rows(pool: asyncpg.Pool, schema: str) -> dict[str, list[str]]:
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
    )
    return {
        t["table_name"]: await pool.fetchval(
            f"SELECT coalesce(array_agg(to_jsonb(t)::text ORDER BY to_jsonb(t)::text), '{{}}') "
            f"FROM {schema}.{t['table_name']} t"
        )
        for t in tables
    }


NIGHTLY = (TriggerSpec(source="schedule", cron="@hourly", schedule="nightly"),)


async def test_a_rebuild_equals_the_live_views_row_for_row(
    driver: Driver, projected: Projected, pool: asyncpg.Pool
) -> None:
    seed = int(os.environ.get("FLOWLEDGER_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    chaos = Chaos(driver, rng)
    project, other = await driver.project(), await driver.project()
    pipelines = [
        await driver.pipeline(project, steps=STEPS, triggers=NIGHTLY),
        await driver.pipeline(project, steps=STEPS[:2], triggers=NIGHTLY),
        await driver.pipeline(other, steps=STEPS[:1]),
    ]
    stop = asyncio.Event()
    live = asyncio.create_task(project_live(pool, driver.tag, projected.schemas, rng, stop))
    try:
        await asyncio.gather(*(chaos.drive(rng.choice(pipelines)) for _ in range(RUNS)))
    finally:
        stop.set()
        batches = await live

    rebuilt: dict[str, str] = {}
    try:
        everything = await read_events(pool, driver.tag)
        for projection in ALL:
            rebuilt[projection.name] = await make_schema(pool, projection)
            await apply_in_batches(
                pool, projection, rebuilt[projection.name], everything, [len(everything)]
            )
        for projection in ALL:
            live_rows = await table_rows(pool, projected[projection.name])
            assert live_rows, projection.name
            assert live_rows == await table_rows(pool, rebuilt[projection.name]), (
                f"{projection.name} differs (seed {seed})"
            )
    finally:
        for schema in rebuilt.values():
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")

    statuses = await agree_with_the_aggregates(driver, projected, chaos.runs)
    assert batches > len(ALL) and len(everything) > RUNS * 5, (batches, len(everything))
    assert {"succeeded", "failed", "cancelled"} <= set(statuses), (statuses, seed)


async def agree_with_the_aggregates(
    driver: Driver, projected: Projected, run_ids: list[UUID]
) -> Counter[str]:
    statuses: Counter[str] = Counter()
    for run_id in run_ids:
        run = await driver.services.repository.get(Run, run_id)
        row = await get_run(projected.pool, projected["runs"], run_id)
        assert row is not None
        statuses[row.status] += 1
        assert (row.status, row.started_at, row.finished_at) == (
            run.status,
            run.started_at,
            run.finished_at,
        )
        assert row.failure_reason == run.failure
        assert row.metrics == run.metric_totals
        assert {s.name: (s.status, s.attempt, s.reason) for s in row.steps} == {
            s.name: (s.status, s.attempt, s.reason) for s in run.steps.values()
        }
        assert sum(row.step_summary.values()) == len(run.steps)
    return statuses
