"""Dispatch over real PostgreSQL and NATS: jobs in dependency order, once each, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from adapters.streaming.jobs import decode_job, job_subject
from commands.context import CommandContext
from commands.dispatch import DISPATCHER, DispatchReady
from domain.run import Run
from domain.run_dispatch import job_id_for
from domain.run_statuses import StepStatus
from tests.integration.api.conftest import Keys
from tests.integration.runners_server.conftest import Fleet, make_pipeline


def dag(label: str) -> list[dict[str, Any]]:
    """build -> (unit, lint): unit and lint wait for build, and run side by side."""
    return [
        {"name": "build", "run": "echo build", "labels": [label], "env": {"MODE": "ci"}},
        {"name": "unit", "run": "echo unit", "needs": ["build"], "labels": [label]},
        {"name": "lint", "run": "echo lint", "needs": ["build"], "labels": [label]},
    ]


async def report(client: AsyncTestClient, headers: dict[str, str], run_id: str, **body: Any) -> Any:
    return await client.post(f"/api/v1/pipeline-runs/{run_id}/status", json=body, headers=headers)


async def run_step(
    client: AsyncTestClient, runner: dict[str, str], run_id: str, step: str, attempt: int = 1
) -> None:
    for status in ("running", "succeeded"):
        body = {"step": step, "status": status, "attempt": attempt, "runner": "fake-runner"}
        response = await report(client, runner, run_id, **body)
        assert response.status_code == 202, response.text


async def test_a_dag_becomes_jobs_in_dependency_order_as_steps_complete(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    runner = await keys.make("runner", name="fake-runner")
    project_id, pipeline_id = await make_pipeline(client, admin, dag(fleet.label))
    await fleet.start()
    response = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/runs", json={"parameters": {}}, headers=admin
    )
    run_id = response.json()["id"]
    await fleet.settled()

    # Only the first step is ready.
    [build] = await fleet.take(1)
    assert await fleet.queued() == 0
    assert (build.step, build.attempt, build.label) == ("build", 1, fleet.label)
    assert build.job_id == job_id_for(UUID(run_id), "build", 1)
    assert (str(build.run_id), str(build.project_id)) == (run_id, project_id)
    assert (build.run, build.env, build.timeout_s) == ("echo build", {"MODE": "ci"}, 3600)
    assert build.log_seq == 1

    # Once it succeeded, both steps that need it are jobs.
    await run_step(client, runner, run_id, "build")
    await fleet.settled()
    later = await fleet.take(2)
    assert sorted(j.step for j in later) == ["lint", "unit"]
    for job in later:
        await run_step(client, runner, run_id, job.step)
    await fleet.settled()
    assert await fleet.queued() == 0
    run = await fleet.services.repository.get(Run, UUID(run_id))
    assert run.status.value == "succeeded"
    assert all(s.dispatched for s in run.steps.values())


async def test_each_job_is_published_once_when_recorded_not_again_when_read_back(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str], keys: Keys, nats_url: str
) -> None:
    runner = await keys.make("runner", name="fake-runner")
    _, pipeline_id = await make_pipeline(client, admin, dag(fleet.label))
    nc = NatsClient()
    await nc.connect(nats_url)
    published: list[UUID] = []

    async def seen(msg: Any) -> None:
        published.append(decode_job(msg.data).job_id)

    # A core subscriber sees every publish, even a copy JetStream would drop as a duplicate.
    await nc.subscribe(job_subject(fleet.label), cb=seen)
    await nc.flush()
    try:
        await fleet.start()
        response = await client.post(
            f"/api/v1/pipelines/{pipeline_id}/runs", json={}, headers=admin
        )
        run_id = response.json()["id"]
        await fleet.settled()
        await run_step(client, runner, run_id, "build")
        await fleet.settled()
        for step in ("unit", "lint"):
            await run_step(client, runner, run_id, step)
        await fleet.settled()
        await nc.flush()
    finally:
        await nc.close()

    expected = {job_id_for(UUID(run_id), step, 1) for step in ("build", "unit", "lint")}
    assert sorted(published) == sorted(expected)


async def test_a_dispatch_recorded_before_a_crash_is_published_once_after_restarts(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str]
) -> None:
    _, pipeline_id = await make_pipeline(client, admin, dag(fleet.label)[:1])
    response = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", json={}, headers=admin)
    run_id = UUID(response.json()["id"])
    # The dispatcher recorded the job on the run, then died before publishing it.
    context = CommandContext(
        principal=DISPATCHER, at=datetime.now(UTC), correlation_id="crash-test"
    )
    await fleet.services.bus.dispatch(DispatchReady(run_id=run_id), context)
    run = await fleet.services.repository.get(Run, run_id)
    assert run.steps["build"].status is StepStatus.QUEUED and run.steps["build"].dispatched
    assert await fleet.queued() == 0

    await fleet.start()
    await fleet.settled()
    assert await fleet.queued() == 1
    # Restarted (it republishes every waiting job), and restarted again: still one job.
    await fleet.stop()
    await fleet.start()
    await fleet.settled()
    await fleet.stop()
    await fleet.start()
    await fleet.settled()
    assert await fleet.queued() == 1
    [job] = await fleet.take(1)
    assert job.job_id == job_id_for(run_id, "build", 1)
    run = await fleet.services.repository.get(Run, run_id)
    assert sum(1 for e in await _types(fleet, run_id) if e == "StepDispatched") == 1


async def _types(fleet: Fleet, run_id: UUID) -> list[str]:
    rows = await fleet.pool.fetch(
        "SELECT type FROM events WHERE stream_id = $1 ORDER BY version", str(run_id)
    )
    return [row["type"] for row in rows]
