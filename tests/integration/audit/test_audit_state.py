"""GET .../state?version=N|at=T: runs and pipelines replayed from the store, as they were then."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from domain.pipeline import Pipeline
from domain.run import Run
from tests.integration.api.conftest import Keys
from tests.integration.audit.audit_reads_support import append_logs, report, run_world

STEPS = [
    {"step": "build", "status": "running"},
    {"step": "build", "status": "succeeded", "exit_code": 0, "outputs": {"image": "v1"}},
    {"step": "test", "status": "running"},
]


def seen(run: Run) -> dict[str, Any]:
    """What the live aggregate holds, in plain values, to compare with a replay later."""
    return {
        "status": run.status.value,
        "stream_version": run.version,
        "steps": {
            name: (s.status.value, s.attempt, s.exit_code, s.outputs)
            for name, s in run.steps.items()
        },
        "started_at": run.started_at,
        "failure_reason": run.failure,
        "log_bytes": run.log_bytes,
    }


def shown(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": state["status"],
        "stream_version": state["stream_version"],
        "steps": {
            s["name"]: (s["status"], s["attempt"], s["exit_code"], s["outputs"])
            for s in state["steps"]
        },
        "started_at": state["started_at"] and datetime.fromisoformat(state["started_at"]),
        "failure_reason": state["failure_reason"],
        "log_bytes": state["logs"]["bytes"],
    }


async def state(
    client: AsyncTestClient, headers: dict[str, str], path: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_run_state_at_each_version_and_moment_is_what_the_aggregate_was_then(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    world = await run_world(client, admin)
    run_id = UUID(world.run_id)
    then = [seen(await services.repository.get(Run, run_id))]
    for body in STEPS:
        await report(client, admin, world.run_id, **body)
        then.append(seen(await services.repository.get(Run, run_id)))
    await append_logs(client, admin, world.run_id, 1, 2)
    then.append(seen(await services.repository.get(Run, run_id)))
    path = f"/api/v1/pipeline-runs/{world.run_id}/state"

    for expected in then:
        by_version = await state(client, admin, path, version=expected["stream_version"])
        recorded = datetime.fromisoformat(by_version["as_of"]["recorded_at"])
        by_moment = await state(client, admin, path, at=recorded.isoformat())
        assert shown(by_version) == expected
        assert shown(by_moment) == expected
        assert by_version["as_of"]["version"] == expected["stream_version"]
        assert by_version["as_of"]["head_version"] == then[-1]["stream_version"]

    last = await state(
        client, admin, path, at=(datetime.now().astimezone() + timedelta(days=1)).isoformat()
    )
    assert shown(last) == then[-1]
    assert last["id"] == world.run_id and last["pipeline_id"] == world.pipeline_id
    assert last["project_id"] == world.project_id and last["trigger_kind"] == "api"
    assert [s["name"] for s in last["steps"]] == ["build", "test"]
    assert last["logs"]["last_seq"] == {"": 2}


async def test_pipeline_state_tells_which_definition_a_run_started_with(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    world = await run_world(client, admin)
    redefined = {"name": "ci", "steps": [{"name": "all", "run": "make all"}]}
    response = await client.put(
        f"/api/v1/pipelines/{world.pipeline_id}", json=redefined, headers=admin
    )
    assert response.status_code == 202, response.text
    path = f"/api/v1/pipelines/{world.pipeline_id}/state"
    run_began = (
        await state(client, admin, f"/api/v1/pipeline-runs/{world.run_id}/state", version=1)
    )["queued_at"]

    when_run_began = await state(client, admin, path, at=run_began)
    first = await state(client, admin, path, version=1)
    now = await state(client, admin, path, version=2)

    live = await services.repository.get(Pipeline, UUID(world.pipeline_id))
    assert when_run_began["current_version"] == first["current_version"] == 1
    assert [s["name"] for s in when_run_began["definition"]["steps"]] == ["build", "test"]
    assert (now["current_version"], now["versions"]) == (2, [1, 2])
    assert [s["name"] for s in now["definition"]["steps"]] == ["all"]
    assert now["definition"]["steps"][0]["run"] == live.definition().steps[0].run
    assert (now["status"], now["active"], now["stream_version"]) == ("active", True, live.version)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "version"),
        ({"version": "1", "at": "2026-01-01T00:00:00Z"}, "version"),
        ({"version": "0"}, "version"),
        ({"version": "one"}, "version"),
        ({"at": "yesterday"}, "at"),
        ({"at": "2026-01-01T00:00:00"}, "at"),
        ({"when": "now"}, "when"),
    ],
)
@pytest.mark.parametrize("kind", ["pipeline-runs", "pipelines"])
async def test_bad_parameters_are_422_naming_them(
    client: AsyncTestClient,
    admin: dict[str, str],
    params: dict[str, str],
    parameter: str,
    kind: str,
) -> None:
    world = await run_world(client, admin)
    stream = world.run_id if kind == "pipeline-runs" else world.pipeline_id

    response = await client.get(f"/api/v1/{kind}/{stream}/state", params=params, headers=admin)

    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["parameter"]) == ("invalid_query", parameter)


async def test_versions_past_the_head_moments_before_the_start_and_unknown_ids_are_404(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    world = await run_world(client, admin)
    run = f"/api/v1/pipeline-runs/{world.run_id}/state"
    began = (await state(client, admin, run, version=1))["queued_at"]
    before = (datetime.fromisoformat(began) - timedelta(seconds=1)).isoformat()
    cases = [
        (run, {"version": 99}, "version_beyond_head"),
        (run, {"at": before}, "before_stream_began"),
        (f"/api/v1/pipeline-runs/{uuid4()}/state", {"version": 1}, "not_found"),
        (f"/api/v1/pipeline-runs/{world.pipeline_id}/state", {"version": 1}, "not_found"),
        (f"/api/v1/pipelines/{world.run_id}/state", {"version": 1}, "not_found"),
        (f"/api/v1/pipelines/{world.pipeline_id}/state", {"version": 9}, "version_beyond_head"),
    ]

    for path, params, code in cases:
        response = await client.get(path, params=params, headers=admin)
        assert (response.status_code, response.json()["code"]) == (404, code), (path, params)


async def test_other_projects_see_404_and_keys_without_read_403(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    world = await run_world(client, admin)
    stranger = await keys.make("read", project_id=uuid4())
    writer = await keys.make("write", project_id=UUID(world.project_id))
    reader = await keys.make("read", project_id=UUID(world.project_id))

    for path in (
        f"/api/v1/pipeline-runs/{world.run_id}/state",
        f"/api/v1/pipelines/{world.pipeline_id}/state",
    ):
        hidden = await client.get(path, params={"version": 1}, headers=stranger)
        past_head = await client.get(path, params={"version": 99}, headers=stranger)
        refused = await client.get(path, params={"version": 1}, headers=writer)
        allowed = await client.get(path, params={"version": 1}, headers=reader)
        assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
        assert past_head.json()["code"] == "not_found", "nothing told about another project"
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        assert allowed.status_code == 200
