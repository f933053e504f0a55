"""The queues view deletes a batch's departed jobs and ended runs in one statement at the
batch's end: a batch of whole runs leaves the jobs and runs their events one at a time do,
a retried step's next attempt included."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from commands.dispatch import DispatchReady
from domain.step_spec import StepSpec
from projections.queues import QueuesProjection
from tests.integration.read_models.conftest import (
    Driver,
    apply_in_batches,
    make_schema,
    read_events,
)

TABLES = {
    "jobs": "SELECT run_id, step, attempt, label, queue_timeout_s, waiting_for_runner "
    "FROM {s}.jobs ORDER BY run_id, step",
    "runs": "SELECT * FROM {s}.runs ORDER BY run_id",
}


async def _dispatch(driver: Driver, run: UUID) -> None:
    await driver.send(DispatchReady(run_id=run))


async def test_whole_runs_in_one_batch_leave_what_their_events_one_at_a_time_leave(
    pool: asyncpg.Pool, driver: Driver
) -> None:
    view = QueuesProjection()
    project = await driver.project()
    steps = (
        StepSpec(name="build", run="make", retries=1, queue_timeout_s=60),
        StepSpec(name="test", run="make test"),
    )
    pipeline = await driver.pipeline(project, steps=steps)
    retried, finished, waiting = [await driver.trigger(pipeline) for _ in range(3)]
    for run in (retried, finished, waiting):
        await _dispatch(driver, run)
    await driver.step(retried, "build", "running", runner="runner-1")
    await driver.step(retried, "build", "failed", reason="exit code 1", exit_code=1)
    await _dispatch(driver, retried)  # attempt 2 waits for a runner
    await driver.step(finished, "build", "running", runner="runner-1")
    await driver.step(finished, "build", "succeeded")
    await _dispatch(driver, finished)
    await driver.step(finished, "test", "running", runner="runner-1")
    await driver.step(finished, "test", "succeeded")
    events = await read_events(pool, driver.tag)
    assert {"StepDispatched", "StepStarted", "StepFailed", "RunSucceeded"} <= {
        e.type for e in events
    }
    one_by_one, folded = await make_schema(pool, view), await make_schema(pool, view)
    try:
        many = await apply_in_batches(pool, view, one_by_one, events, sizes=iter(lambda: 1, 0))
        assert await apply_in_batches(pool, view, folded, events) == 1 < many
        for query in TABLES.values():
            expected = await pool.fetch(query.format(s=one_by_one))
            assert await pool.fetch(query.format(s=folded)) == expected
        jobs = await pool.fetch(TABLES["jobs"].format(s=folded))
        assert sorted(
            (r["run_id"], r["step"], r["attempt"], r["queue_timeout_s"]) for r in jobs
        ) == sorted([(retried, "build", 2, 60), (waiting, "build", 1, 60)])
        runs = await pool.fetch(TABLES["runs"].format(s=folded))
        assert {r["run_id"] for r in runs} == {retried, waiting}
    finally:
        for schema in (one_by_one, folded):
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")
