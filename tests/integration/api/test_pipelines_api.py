"""Projects and pipelines over HTTP: each change is an event, answered with its position."""

from __future__ import annotations

import asyncio
from uuid import UUID

from litestar.testing import AsyncTestClient

from adapters.store import EventStore
from tests.helpers import unique_id


def pipeline_body(project_id: str, **extra: object) -> dict:
    return {
        "project_id": project_id,
        "name": "build and test",
        "tags": ["ci"],
        "parameters": [{"name": "TARGET", "default": "linux"}],
        "steps": [
            {"name": "build", "run": "make build"},
            {"name": "test", "run": "make test", "needs": ["build"], "retries": 1},
        ],
        "triggers": [{"source": "github", "events": ["push"], "branches": ["main"]}],
        **extra,
    }


async def new_project(client: AsyncTestClient, admin: dict[str, str]) -> str:
    slug = unique_id("p-")[:40]
    response = await client.post(
        "/api/v1/projects", json={"name": "Demo", "slug": slug}, headers=admin
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_create_project_answers_with_id_version_and_position(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    headers = {**admin, "X-Correlation-Id": "corr-1", "traceparent": traceparent}

    response = await client.post(
        "/api/v1/projects", json={"name": "Demo", "slug": unique_id("p-")[:40]}, headers=headers
    )

    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 1 and body["position"] > 0
    store: EventStore = services.store
    [event] = await store.read_stream(body["id"])
    assert (event.type, event.position) == ("ProjectCreated", body["position"])
    assert (event.metadata.actor, event.metadata.correlation_id) == ("root", "corr-1")
    assert event.metadata.traceparent == traceparent


async def test_pipeline_lifecycle_appends_versions(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    project = await new_project(client, admin)

    created = await client.post("/api/v1/pipelines", json=pipeline_body(project), headers=admin)
    assert created.status_code == 201, created.text
    pipeline = created.json()["id"]
    definition = pipeline_body(project)
    del definition["project_id"]
    definition["description"] = "now documented"
    updated = await client.put(f"/api/v1/pipelines/{pipeline}", json=definition, headers=admin)
    deactivated = await client.post(f"/api/v1/pipelines/{pipeline}/deactivate", headers=admin)
    archived = await client.delete(f"/api/v1/pipelines/{pipeline}", headers=admin)

    assert [r.status_code for r in (updated, deactivated, archived)] == [202, 202, 202]
    assert archived.json()["version"] == 4
    events = await services.store.read_stream(pipeline)
    assert [e.type for e in events] == [
        "PipelineCreated",
        "PipelineVersionDefined",
        "PipelineDeactivated",
        "PipelineArchived",
    ]
    after = await client.post(f"/api/v1/pipelines/{pipeline}/activate", headers=admin)
    assert after.status_code == 409
    assert after.json()["code"] == "illegal_transition"
    assert after.json()["current_state"] == "archived"


async def test_a_stale_if_match_is_a_version_conflict(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    project = await new_project(client, admin)
    pipeline = (
        await client.post("/api/v1/pipelines", json=pipeline_body(project), headers=admin)
    ).json()["id"]
    definition = pipeline_body(project)
    del definition["project_id"]
    definition["description"] = "v2"

    ok = await client.put(
        f"/api/v1/pipelines/{pipeline}", json=definition, headers={**admin, "If-Match": '"1"'}
    )
    definition["description"] = "v3"
    stale = await client.put(
        f"/api/v1/pipelines/{pipeline}", json=definition, headers={**admin, "If-Match": '"1"'}
    )

    assert ok.status_code == 202
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_conflict"


async def test_a_cycle_in_needs_is_refused_naming_the_field(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    project = await new_project(client, admin)
    body = pipeline_body(project)
    body["steps"][0]["needs"] = ["test"]

    response = await client.post("/api/v1/pipelines", json=body, headers=admin)

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_value"
    assert "steps" in response.json()["field"]


async def test_an_idempotent_replay_answers_the_same_and_writes_nothing(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    project = await new_project(client, admin)
    headers = {**admin, "Idempotency-Key": unique_id("k-")}
    store: EventStore = services.store

    first = await client.post("/api/v1/pipelines", json=pipeline_body(project), headers=headers)
    head = await store.head_position()
    again = await client.post("/api/v1/pipelines", json=pipeline_body(project), headers=headers)

    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await store.head_position() == head
    other = await client.post(
        "/api/v1/pipelines", json=pipeline_body(project, name="other"), headers=headers
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_concurrent_replays_of_one_key_create_one_pipeline(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    project = await new_project(client, admin)
    headers = {**admin, "Idempotency-Key": unique_id("k-")}

    answers = await asyncio.gather(
        *(
            client.post("/api/v1/pipelines", json=pipeline_body(project), headers=headers)
            for _ in range(6)
        )
    )

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    events = await services.store.read_stream(answers[0].json()["id"])
    assert len(events) == 1


async def test_a_project_key_cannot_touch_another_project(
    client: AsyncTestClient, admin: dict[str, str], keys
) -> None:
    mine, theirs = await new_project(client, admin), await new_project(client, admin)
    writer = await keys.make("write", project_id=UUID(mine))

    allowed = await client.post("/api/v1/pipelines", json=pipeline_body(mine), headers=writer)
    refused = await client.post("/api/v1/pipelines", json=pipeline_body(theirs), headers=writer)
    no_admin = await client.post(
        "/api/v1/projects", json={"name": "x", "slug": "x-y"}, headers=writer
    )

    assert allowed.status_code == 201
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert (no_admin.status_code, no_admin.json()["code"]) == (403, "forbidden")


async def test_a_credential_looking_env_value_is_refused_and_nothing_is_written(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    project = await new_project(client, admin)
    token = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
    body = pipeline_body(project)
    body["steps"][0]["env"] = {"TOKEN": token}
    store: EventStore = services.store
    head = await store.head_position()

    refused = await client.post("/api/v1/pipelines", json=body, headers=admin)

    assert refused.status_code == 422
    assert refused.json()["field"] == "steps[0].env"
    assert "secret" in refused.json()["detail"] and token not in refused.text
    assert await store.head_position() == head
    body["steps"][0]["not_secret"] = ["TOKEN"]  # declared: the author takes responsibility
    kept = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert kept.status_code == 201, kept.text
