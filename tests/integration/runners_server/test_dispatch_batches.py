"""A batch of many woken runs: each dispatched and published once, groups admitted in order.

The dispatcher is started after every run was requested, so it reads them in one batch:
runs that join no group are dispatched side by side, runs of a group one at a time in the
order they were requested.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from uuid import UUID

from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from adapters.streaming.jobs import decode_job, job_subject
from domain.run import Run
from domain.run_dispatch import job_id_for
from tests.integration.projections.counting import wait_until
from tests.integration.runners_server.conftest import Fleet, make_pipeline

GROUPLESS_RUNS = 9
GROUPED_RUNS = 4


async def request(client: AsyncTestClient, admin: dict[str, str], pipeline_id: str) -> UUID:
    response = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", json={}, headers=admin)
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


async def grouped_pipeline(client: AsyncTestClient, admin: dict[str, str], label: str) -> str:
    project_id, _ = await make_pipeline(client, admin, [{"name": "x", "run": "true"}])
    body = {
        "project_id": project_id,
        "name": "deploy",
        "steps": [{"name": "deploy", "run": "true", "labels": [label]}],
        "concurrency": {"group": "deploy", "policy": "queue"},
    }
    response = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_one_batch_of_runs_is_dispatched_once_each_and_a_group_admits_the_first(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str], nats_url: str
) -> None:
    step = {"name": "only", "run": "true", "labels": [fleet.label]}
    _, plain = await make_pipeline(client, admin, [step])
    grouped = await grouped_pipeline(client, admin, fleet.label)
    # Side by side, the group's runs would all set out at once and race for it.
    queued = [await request(client, admin, grouped) for _ in range(GROUPED_RUNS)]
    free = [await request(client, admin, plain) for _ in range(GROUPLESS_RUNS)]

    nc = NatsClient()
    await nc.connect(nats_url)
    published: Counter[UUID] = Counter()

    async def seen(msg: Any) -> None:
        published[decode_job(msg.data).job_id] += 1

    # A core subscriber sees every publish, even a copy JetStream would drop as a duplicate.
    await nc.subscribe(job_subject(fleet.label), cb=seen)
    await nc.flush()
    try:
        await fleet.start()
        await fleet.settled()
        await nc.flush()
    finally:
        await nc.close()

    first = queued[0]
    expected = [job_id_for(run_id, "only", 1) for run_id in free]
    expected.append(job_id_for(first, "deploy", 1))
    assert published == Counter(expected)
    for run_id in free:
        assert (await _types(fleet, run_id)).count("StepDispatched") == 1
    # The group holds the first run requested; the later ones wait their turn, undispatched.
    assert (await fleet.services.repository.get(Run, first)).concurrency_admitted
    for run_id in queued[1:]:
        run = await fleet.services.repository.get(Run, run_id)
        assert not run.concurrency_admitted
        assert "StepDispatched" not in await _types(fleet, run_id)
    assert await fleet.queued() == len(expected)


async def test_a_requested_run_is_dispatched_before_its_batch_moves_the_checkpoint(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str]
) -> None:
    _, plain = await make_pipeline(client, admin, [{"name": "only", "run": "true",
                                                    "labels": [fleet.label]}])  # fmt: skip
    await fleet.start()
    await fleet.settled()
    async with fleet.pool.acquire() as conn, conn.transaction():
        # The batch's transaction cannot move the checkpoint while this holds its row.
        await conn.execute(
            "SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE", fleet.process.name
        )
        run_id = await request(client, admin, plain)
        await wait_until(lambda: _dispatched(fleet, run_id), what="the run dispatched")
    await fleet.settled()
    assert (await _types(fleet, run_id)).count("StepDispatched") == 1
    assert [job.run_id for job in await fleet.take(1)] == [run_id]
    assert await fleet.queued() == 0


async def _dispatched(fleet: Fleet, run_id: UUID) -> bool:
    return "StepDispatched" in await _types(fleet, run_id)


async def _types(fleet: Fleet, run_id: UUID) -> list[str]:
    rows = await fleet.pool.fetch(
        "SELECT type FROM events WHERE stream_id = $1 ORDER BY version", str(run_id)
    )
    return [row["type"] for row in rows]
