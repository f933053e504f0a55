"""The environments view folds a batch's step events into one write of the deployments: a
batch of a whole run leaves each deployment as its events one at a time do."""

from __future__ import annotations

import asyncpg

from domain.step_spec import StepSpec
from projections.environments import EnvironmentsProjection
from tests.integration.read_models.conftest import (
    Driver,
    apply_in_batches,
    make_schema,
    read_events,
)

ROWS = "SELECT * FROM {s}.deployments ORDER BY run_id, step"


async def test_a_run_in_one_batch_leaves_what_its_events_one_at_a_time_leave(
    pool: asyncpg.Pool, driver: Driver
) -> None:
    view = EnvironmentsProjection()
    project = await driver.project()
    steps = (
        StepSpec(name="build", run="make"),
        StepSpec(name="deploy", run="./deploy", environment="production"),
        StepSpec(name="smoke", run="./smoke", environment="staging"),
    )
    pipeline = await driver.pipeline(project, steps=steps)
    failing, running = [await driver.trigger(pipeline, ref="refs/heads/main") for _ in range(2)]
    for run in (failing, running):
        await driver.step(run, "build", "running", runner="runner-1")
        await driver.step(run, "build", "succeeded")
        await driver.step(run, "deploy", "running", runner="runner-1")
    await driver.step(failing, "deploy", "failed", reason="exit code 3", exit_code=3)
    await driver.step(running, "deploy", "succeeded")
    await driver.step(running, "smoke", "running", runner="runner-1")
    events = await read_events(pool, driver.tag)
    one_by_one, folded = await make_schema(pool, view), await make_schema(pool, view)
    try:
        many = await apply_in_batches(pool, view, one_by_one, events, sizes=iter(lambda: 1, 0))
        assert await apply_in_batches(pool, view, folded, events) == 1 < many
        expected = await pool.fetch(ROWS.format(s=one_by_one))
        assert await pool.fetch(ROWS.format(s=folded)) == expected
        shown = {(r["run_id"], r["step"]): r for r in expected}
        assert len(shown) == 4  # build deploys nowhere
        deploy = shown[(failing, "deploy")]
        assert (deploy["status"], deploy["reason"]) == ("failed", "exit code 3")
        assert deploy["started_at"] is not None and deploy["finished_at"] is not None
        assert shown[(failing, "smoke")]["status"] == "skipped"
        smoke = shown[(running, "smoke")]
        assert (smoke["status"], smoke["started_at"] is None, smoke["finished_at"]) == (
            "running",
            False,
            None,
        )
    finally:
        for schema in (one_by_one, folded):
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")
