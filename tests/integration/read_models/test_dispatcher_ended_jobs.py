"""The dispatcher's tables after ends: a batch's ended jobs deleted in one statement leave what
deleting them one event at a time leaves (a retried step's next attempt stays); the queue watch
forgets a batch's ended runs; a run's end lets go of its concurrency-group places."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from adapters.dispatch.ended_jobs import EndedJobs
from adapters.dispatch.groups import GroupProcess
from adapters.dispatch.process import DDL
from adapters.dispatch.queue_watch import QueueWatch
from commands.concurrency import ReleaseConcurrency
from domain.envelope import EventEnvelope, EventMetadata
from tests.integration.read_models.conftest import make_schema

JOBS = "SELECT run_id, step, attempt FROM {s}.jobs ORDER BY run_id, step, attempt"


def _event(run: UUID, type: str, **data: object) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(), position=1, stream_id=str(run), stream_type="run", version=1,
        type=type, schema_version=1, recorded_at=datetime.now(UTC), data=data,
        metadata=EventMetadata(), hash="",
    )  # fmt: skip


async def _jobs_left(pool: asyncpg.Pool, batches: list[list[EventEnvelope]], jobs: list) -> list:
    schema = f"rm_test_{uuid.uuid4().hex[:12]}"
    async with pool.acquire() as conn:
        try:
            await conn.execute(f"CREATE SCHEMA {schema}; " + DDL.format(s=schema))
            await conn.executemany(
                f"INSERT INTO {schema}.jobs (job_id, run_id, step, attempt, label, "
                "dispatched_at) VALUES ($1, $2, $3, $4, 'linux', now())",
                [(uuid.uuid4(), *job) for job in jobs],
            )
            for batch in batches:
                ended = EndedJobs()
                assert all(ended.add(event) for event in batch)
                async with conn.transaction():
                    await ended.write(conn, schema)
            return [tuple(row) for row in await conn.fetch(JOBS.format(s=schema))]
        finally:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_a_batch_s_ended_jobs_go_as_they_would_one_at_a_time(pool: asyncpg.Pool) -> None:
    retried, finished, waiting = sorted(uuid.uuid4() for _ in range(3))
    jobs = [
        (retried, "build", 1),
        (retried, "build", 2),
        (finished, "build", 1),
        (finished, "test", 1),
        (waiting, "build", 1),
    ]
    events = [
        _event(retried, "StepFailed", step="build", attempt=1),
        _event(finished, "StepSucceeded", step="build", attempt=1),
        _event(finished, "StepSucceeded", step="test", attempt=1),
        _event(finished, "RunSucceeded"),
    ]
    one_by_one = await _jobs_left(pool, [[e] for e in events], jobs)
    assert await _jobs_left(pool, [events], jobs) == one_by_one
    assert one_by_one == [(retried, "build", 2), (waiting, "build", 1)]


def test_only_ends_are_noted() -> None:
    ended = EndedJobs()
    run = uuid.uuid4()
    assert not ended.add(_event(run, "StepStarted", step="build", attempt=1))
    assert not ended.add(_event(run, "StepDispatched", step="build", attempt=1))
    assert ended.add(_event(run, "StepCancelled", step="build", attempt=1))
    assert ended.add(_event(run, "RunCancelled"))


async def test_the_queue_watch_forgets_every_run_ended_in_a_batch(pool: asyncpg.Pool) -> None:
    async def no_command(command: object, context: object) -> None:
        raise AssertionError(f"no command expected, got {command}")

    watch = QueueWatch(no_command)  # type: ignore[arg-type]
    schema = await make_schema(pool, watch)
    project, runs = uuid.uuid4(), [uuid.uuid4() for _ in range(3)]
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                requested = [_event(r, "RunRequested", project_id=str(project)) for r in runs]
                await watch.apply(conn, schema, requested)
            async with conn.transaction():
                ends = [_event(runs[0], "RunSucceeded"), _event(runs[2], "RunFailed")]
                await watch.apply(conn, schema, ends)
            left = await conn.fetch(f"SELECT run_id FROM {schema}.runs")
        assert [row["run_id"] for row in left] == [runs[1]]
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_a_run_s_end_lets_go_of_its_group_places_in_one_statement(
    pool: asyncpg.Pool,
) -> None:
    sent: list[object] = []

    async def record(command: object, context: object) -> None:
        sent.append(command)

    groups = GroupProcess(record)  # type: ignore[arg-type]
    schema = await make_schema(pool, groups)
    grouped, stepped, plain = (uuid.uuid4() for _ in range(3))
    try:
        async with pool.acquire() as conn:
            await conn.execute(f"INSERT INTO {schema}.grouped_runs VALUES ($1)", grouped)
            await conn.executemany(
                f"INSERT INTO {schema}.grouped_steps VALUES ($1, $2, 'deploy')",
                [(uuid.uuid4(), grouped), (uuid.uuid4(), stepped)],
            )
            async with conn.transaction():
                ends = [_event(r, "RunSucceeded") for r in (grouped, stepped, plain)]
                await groups.apply(conn, schema, ends)
            left = await conn.fetchval(
                f"SELECT (SELECT count(*) FROM {schema}.grouped_runs) "
                f"+ (SELECT count(*) FROM {schema}.grouped_steps)"
            )
        assert left == 0
        assert sent == [ReleaseConcurrency(run_id=grouped)]
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
