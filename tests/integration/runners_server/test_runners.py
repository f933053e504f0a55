"""Runners over real PostgreSQL and NATS: registering, heartbeats, loss and retry, stale reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from adapters.dispatch.reaper import Reaper
from adapters.store.heartbeats import PgHeartbeats
from domain.run import Run
from domain.run_dispatch import RUNNER_LOST, job_id_for
from domain.runner import runner_id_for
from tests.helpers import unique_id
from tests.integration.api.conftest import Keys
from tests.integration.runners_server.conftest import Fleet, make_pipeline

RUNNERS = "/api/v1/runners"


def registration(name: str, **overrides: Any) -> dict[str, Any]:
    body = {"name": name, "labels": ["linux"], "host": "h1", "version": "0.1", "concurrency": 2}
    return body | overrides


async def register(client: AsyncTestClient, headers: dict[str, str], name: str) -> str:
    response = await client.post(RUNNERS, json=registration(name), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["runner_id"]


async def status(client: AsyncTestClient, headers: dict[str, str], run_id: str, **body: Any) -> Any:
    return await client.post(f"/api/v1/pipeline-runs/{run_id}/status", json=body, headers=headers)


async def view(
    fleet: Fleet, client: AsyncTestClient, headers: dict[str, str], runner_id: str
) -> dict[str, Any]:
    """The runner as GET shows it once the view has applied every event so far.

    Waited for here, not with `min_position`: the test client blocks this loop, which also
    runs the view's projector.
    """
    position = await fleet.caught_up(fleet.view.name)
    response = await client.get(
        f"{RUNNERS}/{runner_id}", params={"min_position": position}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_registering_again_keeps_the_id_and_the_view_shows_the_runner(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    runner = await keys.make("runner", name="runner")
    name = unique_id("r-")
    first = await client.post(RUNNERS, json=registration(name), headers=runner)
    assert first.status_code == 201, first.text
    runner_id = first.json()["runner_id"]
    assert runner_id == first.json()["id"] == str(runner_id_for(name))
    again = await client.post(RUNNERS, json=registration(name, labels=["gpu"]), headers=runner)
    assert again.status_code == 201 and again.json()["runner_id"] == runner_id

    beat = await client.post(f"{RUNNERS}/{runner_id}/heartbeat", json={"jobs": []}, headers=runner)
    assert beat.status_code == 202, beat.text
    shown = await view(fleet, client, admin, runner_id)
    assert (shown["name"], shown["labels"], shown["state"]) == (name, ["gpu"], "idle")
    assert shown["current_jobs"] == [] and shown["last_heartbeat"] is not None

    listed = await client.get(RUNNERS, params={"label": "gpu", "state": "idle"}, headers=admin)
    assert listed.status_code == 200, listed.text
    assert runner_id in [r["id"] for r in listed.json()["items"]]

    gone = await client.post(f"{RUNNERS}/{runner_id}/deregister", headers=runner)
    assert gone.status_code == 202, gone.text
    assert (await view(fleet, client, admin, runner_id))["state"] == "offline"
    late = await client.post(f"{RUNNERS}/{runner_id}/heartbeat", json={}, headers=runner)
    assert late.status_code == 409 and late.json()["code"] == "runner_not_active"


async def test_a_silent_runner_is_lost_and_its_step_retried_as_a_new_job(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    key = await keys.make("runner", name="fleet-runner")
    steps = [{"name": "build", "run": "make", "retries": 1, "labels": [fleet.label]}]
    _, pipeline_id = await make_pipeline(client, admin, steps)
    await fleet.start()
    lost_id = await register(client, key, unique_id("lost-"))
    other_id = await register(client, key, unique_id("other-"))
    third_id = await register(client, key, unique_id("third-"))
    response = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", json={}, headers=admin)
    run_id = response.json()["id"]
    await fleet.settled()
    [first] = await fleet.take(1)

    started = await status(client, key, run_id, step="build", status="running", runner=lost_id)
    assert started.status_code == 202, started.text
    busy = await view(fleet, client, admin, lost_id)
    assert busy["state"] == "busy"
    assert [(j["run_id"], j["step"], j["attempt"]) for j in busy["current_jobs"]] == [
        (run_id, "build", 1)
    ]
    # Another runner taking the same job (a redelivery) may not run it too.
    twice = await status(client, key, run_id, step="build", status="running", runner=other_id)
    assert twice.status_code == 409 and twice.json()["code"] == "attempt_already_started"

    # It falls silent: its last heartbeat is older than the bound.
    await fleet.pool.execute(
        "UPDATE runner_heartbeats SET seen_at = seen_at - interval '1 hour' WHERE runner_id = $1",
        UUID(lost_id),
    )
    reaper = Reaper(
        fleet.services.bus.dispatch,
        PgHeartbeats(fleet.pool),
        lost_after_s=fleet.settings.runner_lost_after_s,
        every_s=1,
    )
    assert lost_id in await reaper.reap(datetime.now(UTC))
    await fleet.settled()

    run = await fleet.services.repository.get(Run, UUID(run_id))
    build = run.steps["build"]
    assert (build.attempt, build.status.value, build.dispatched) == (2, "queued", True)
    [retry] = await fleet.take(1)
    assert (retry.step, retry.attempt) == ("build", 2)
    assert retry.job_id == job_id_for(UUID(run_id), "build", 2) != first.job_id
    failed = [e for e in await _events(fleet, run_id) if e["type"] == "StepFailed"]
    assert [e["data"]["reason"] for e in failed] == [RUNNER_LOST]
    assert (await view(fleet, client, admin, lost_id))["state"] == "lost"

    # The lost runner's late reports change nothing; its heartbeat tells it to register again.
    late = await status(client, key, run_id, step="build", status="succeeded", runner=lost_id)
    assert late.status_code == 409 and late.json()["code"] == "attempt_mismatch"
    beat = await client.post(f"{RUNNERS}/{lost_id}/heartbeat", json={}, headers=key)
    assert beat.status_code == 409 and beat.json()["code"] == "runner_not_active"

    # Another runner takes the new attempt, and only one runner may.
    body = {"step": "build", "status": "running", "attempt": 2}
    taken = await status(client, key, run_id, runner=other_id, **body)
    assert taken.status_code == 202, taken.text
    again = await status(client, key, run_id, runner=third_id, **body)
    assert again.status_code == 409 and again.json()["code"] == "attempt_already_started"
    stale = await status(client, key, run_id, runner=third_id, **{**body, "attempt": 1})
    assert stale.status_code == 409 and stale.json()["code"] == "attempt_mismatch"
    done = await status(client, key, run_id, runner=other_id, **{**body, "status": "succeeded"})
    assert done.status_code == 202, done.text
    after = await status(client, key, run_id, runner=other_id, **body)
    assert after.status_code == 409


async def test_a_runner_registered_again_loses_what_its_old_process_ran(
    fleet: Fleet, client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    key = await keys.make("runner", name="restarted")
    steps = [{"name": "build", "run": "make", "retries": 1, "labels": [fleet.label]}]
    _, pipeline_id = await make_pipeline(client, admin, steps)
    await fleet.start()
    name = unique_id("restarted-")
    runner_id = await register(client, key, name)
    response = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", json={}, headers=admin)
    run_id = response.json()["id"]
    await fleet.settled()
    await fleet.take(1)
    # It reports by name, as a runner may.
    started = await status(client, key, run_id, step="build", status="running", runner=name)
    assert started.status_code == 202, started.text
    assert await register(client, key, name) == runner_id
    await fleet.settled()
    [retry] = await fleet.take(1)
    assert retry.attempt == 2


async def _events(fleet: Fleet, run_id: str) -> list[dict[str, Any]]:
    import json

    rows = await fleet.pool.fetch(
        "SELECT type, data::text AS data FROM events WHERE stream_id = $1 ORDER BY version", run_id
    )
    return [{"type": r["type"], "data": json.loads(r["data"])} for r in rows]


@pytest.mark.parametrize(
    ("body", "status_code", "field"),
    [
        ({"labels": ["linux"], "host": "h", "version": "1", "concurrency": 1}, 422, "name"),
        (registration("x", labels="linux"), 422, "labels"),
        (registration("x", concurrency="two"), 422, "concurrency"),
        (registration("x", concurrency=0), 422, "concurrency"),
        (registration("x", labels=[]), 422, "labels"),
        (registration("x", labels=["no spaces"]), 422, "labels"),
        (registration("x", extra=1), 422, "extra"),
    ],
)
async def test_a_bad_registration_is_refused_naming_the_field(
    client: AsyncTestClient, keys: Keys, body: dict[str, Any], status_code: int, field: str
) -> None:
    runner = await keys.make("runner", name="bad-input")
    response = await client.post(RUNNERS, json=body, headers=runner)
    assert response.status_code == status_code, response.text
    assert field in response.text


async def test_malformed_json_unknown_runners_and_wrong_scopes(
    fleet: Fleet, client: AsyncTestClient, keys: Keys, admin: dict[str, str]
) -> None:
    runner = await keys.make("runner", name="scopes")
    reader = await keys.make("read", name="reader")
    response = await client.post(
        RUNNERS, content=b"{not json", headers={**runner, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422) and response.json()["code"] in (
        "malformed_json",
        "invalid_input",
    )
    unknown = "0195f1d0-0000-7000-8000-00000000dead"
    beat = await client.post(f"{RUNNERS}/{unknown}/heartbeat", json={}, headers=runner)
    assert beat.status_code == 404
    assert (await client.post(f"{RUNNERS}/{unknown}/deregister", headers=runner)).status_code == 404
    assert (await client.get(f"{RUNNERS}/{unknown}", headers=admin)).status_code == 404
    bad_jobs = await client.post(
        f"{RUNNERS}/{unknown}/heartbeat", json={"jobs": [{"run_id": "x"}]}, headers=runner
    )
    assert bad_jobs.status_code == 422

    # Writing needs `runner`; reading needs `read`.
    refused = await client.post(RUNNERS, json=registration(unique_id("r-")), headers=reader)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    runner_id = await register(client, runner, unique_id("r-"))
    for path in (f"{RUNNERS}/{runner_id}/heartbeat", f"{RUNNERS}/{runner_id}/deregister"):
        assert (await client.post(path, json={}, headers=reader)).status_code == 403
    assert (await client.get(RUNNERS, headers=runner)).status_code == 403
    assert (await client.get(RUNNERS)).status_code == 401
    assert (await client.get(RUNNERS, params={"state": "asleep"}, headers=admin)).status_code == 422


async def test_a_project_bound_key_cannot_take_over_another_projects_runner(
    client: AsyncTestClient, keys: Keys, admin: dict[str, str]
) -> None:
    shared = await keys.make("runner", name="shared")
    name = unique_id("r-")
    await register(client, shared, name)
    response = await client.post(
        "/api/v1/projects", json={"name": "p", "slug": unique_id("p-")[:40]}, headers=admin
    )
    bound = await keys.make("runner", project_id=UUID(response.json()["id"]), name="bound")
    taken = await client.post(RUNNERS, json=registration(name), headers=bound)
    assert taken.status_code == 403


async def test_the_reaper_leaves_runners_that_heartbeat_alone(fleet: Fleet) -> None:
    heartbeats = PgHeartbeats(fleet.pool)
    reaper = Reaper(fleet.services.bus.dispatch, heartbeats, lost_after_s=30, every_s=1)
    now = datetime.now(UTC)
    alive = runner_id_for(unique_id("alive-"))
    await heartbeats.beat(alive, now - timedelta(seconds=5), ())
    assert str(alive) not in await reaper.reap(now)
    # An unknown runner's stale row is dropped (nothing to mark), and not asked about again.
    assert str(alive) in await reaper.reap(now + timedelta(seconds=60))
    assert str(alive) not in await reaper.reap(now + timedelta(seconds=120))
