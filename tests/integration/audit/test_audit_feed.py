"""GET /api/v1/events: the global feed for auditors, filtered, paged by position, upcast."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from adapters.store.reader import head as head_position
from domain.project import Project
from tests.integration.api.conftest import Keys
from tests.integration.audit.audit_reads_support import (
    feed,
    legacy_project,
    report,
    run_world,
    stored_after,
)


async def test_the_feed_pages_every_event_in_position_order(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys, services: Services
) -> None:
    after = await head_position(services.store.pool)
    world = await run_world(client, admin)
    await report(client, admin, world.run_id, step="build", status="running")
    auditor = await keys.make("audit", name="auditor")

    items, last = await feed(client, auditor, after=after, limit=2)

    stored = await stored_after(services, after)
    assert [i["position"] for i in items] == [r["position"] for r in stored]
    assert (last["more"], last["next_after"], last["head"]) == (
        False,
        stored[-1]["position"],
        stored[-1]["position"],
    )
    assert {i["stream_id"] for i in items} >= {world.project_id, world.pipeline_id, world.run_id}


async def test_filters_by_event_type_stream_type_and_time(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    after = await head_position(services.store.pool)
    world = await run_world(client, admin)
    await report(client, admin, world.run_id, step="build", status="running")
    await report(client, admin, world.run_id, step="build", status="succeeded", exit_code=0)
    stored = await stored_after(services, after)
    started = next(r for r in stored if r["type"] == "StepStarted")
    succeeded = next(r for r in stored if r["type"] == "StepSucceeded")

    by_type, _ = await feed(client, admin, after=after, type=["RunRequested", "StepStarted"])
    by_list, _ = await feed(client, admin, after=after, type="RunRequested,StepStarted")
    by_stream, _ = await feed(client, admin, after=after, stream_type="pipeline")
    window, _ = await feed(
        client,
        admin,
        after=after,
        recorded_after=started["recorded_at"].isoformat(),
        recorded_before=succeeded["recorded_at"].isoformat(),
    )

    wanted = [r["position"] for r in stored if r["type"] in ("RunRequested", "StepStarted")]
    assert [i["position"] for i in by_type] == [i["position"] for i in by_list] == wanted
    assert [i["type"] for i in by_stream] == ["PipelineCreated"]
    in_window = [
        r["position"]
        for r in stored
        if started["recorded_at"] <= r["recorded_at"] < succeeded["recorded_at"]
    ]
    assert [i["position"] for i in window] == in_window
    assert "StepStarted" in {i["type"] for i in window}
    assert "StepSucceeded" not in {i["type"] for i in window}


async def test_a_sparse_filter_still_moves_the_feed_forward(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    after = await head_position(services.store.pool)
    await run_world(client, admin)

    items, page = await feed(client, admin, after=after, type="NoSuchEventType")

    assert items == []
    assert page["next_after"] == page["head"] == await head_position(services.store.pool)


async def test_an_event_stored_at_an_old_schema_is_served_upcast_and_says_so(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    after = await head_position(services.store.pool)
    project_id = await legacy_project(services)

    (item,), _ = await feed(client, admin, after=after, type="ProjectCreated")

    stored = await services.store.pool.fetchrow(
        "SELECT data::text AS data, encode(hash, 'hex') AS hash FROM events WHERE stream_id = $1",
        str(project_id),
    )
    assert (item["schema_version"], item["stored_schema_version"]) == (2, 1)
    assert item["data"] == {**json.loads(stored["data"]), "description": ""}
    assert item["hash"] == stored["hash"], "the hash is of the bytes as stored"
    assert item["metadata"] == {"actor": "2019 importer"}
    assert (await services.repository.get(Project, project_id)).name == "legacy"


async def test_only_auditors_of_every_project_may_read_the_feed(
    client: AsyncTestClient, keys: Keys
) -> None:
    project_auditor = await keys.make("audit", project_id=uuid4())
    reader = await keys.make("read", "write")
    auditor = await keys.make("audit")

    for headers in (project_auditor, reader):
        response = await client.get("/api/v1/events", headers=headers)
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert (await client.get("/api/v1/events")).status_code == 401
    assert (await client.get("/api/v1/events", headers=auditor)).status_code == 200


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"after": "-1"}, "after"),
        ({"after": "first"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"stream_type": "widget"}, "stream_type"),
        ({"type": ","}, "type"),
        ({"recorded_after": "last tuesday"}, "recorded_after"),
        ({"recorded_before": "2026-01-01T00:00:00"}, "recorded_before"),
        ({"cursor": "abc"}, "cursor"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    client: AsyncTestClient, admin: dict[str, str], params: dict[str, str], parameter: str
) -> None:
    response = await client.get("/api/v1/events", params=params, headers=admin)

    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["parameter"]) == ("invalid_query", parameter)


async def test_every_audit_read_is_in_the_openapi_document(client: AsyncTestClient) -> None:
    paths = (await client.get("/docs/openapi.json")).json()["paths"]
    expected = {
        "/api/v1/pipeline-runs/{run_id}/history": ("getRunHistory", {"limit", "cursor", "format"}),
        "/api/v1/pipeline-runs/{run_id}/state": ("getRunStateAsOf", {"version", "at"}),
        "/api/v1/pipelines/{pipeline_id}/state": ("getPipelineStateAsOf", {"version", "at"}),
        "/api/v1/events": (
            "listEvents",
            {"after", "limit", "stream_type", "type", "recorded_after"},
        ),
        "/api/v1/events/{event_id}/trace": ("traceEvent", set()),
    }

    for path, (operation_id, parameters) in expected.items():
        operation = paths[path]["get"]
        assert operation["operationId"] == operation_id
        assert parameters <= {p["name"] for p in operation.get("parameters", [])}
        assert operation["description"]
