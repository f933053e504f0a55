"""GET /api/v1/pipeline-runs/{id}/history: the run's events from the store, paged or as NDJSON."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from adapters.audit.reads import BATCH, batches, stream_reader
from adapters.platform.services import Services
from tests.integration.api.conftest import Keys
from tests.integration.audit.audit_reads_support import (
    append_logs,
    history,
    ndjson,
    report,
    run_world,
    stored_rows,
    webhook_run,
)


async def test_history_pages_through_every_event_with_its_full_envelope(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys, services: Services
) -> None:
    world = await run_world(client, admin)
    runner = await keys.make("runner", name="runner-7")
    traced = {**runner, "X-Correlation-Id": "corr-42", "X-Causation-Id": "ticket-9"}
    await report(client, traced, world.run_id, step="build", status="running")
    await append_logs(client, runner, world.run_id, 1, 3)
    reader = await keys.make("read", project_id=UUID(world.project_id))

    items = await history(client, reader, world.run_id, limit=2)

    stored = await stored_rows(services, world.run_id)
    assert [i["version"] for i in items] == [r["version"] for r in stored]
    assert [i["event_id"] for i in items] == [str(r["event_id"]) for r in stored]
    assert [i["hash"] for i in items] == [r["hash"] for r in stored]
    assert [i["data"] for i in items] == [json.loads(r["data"]) for r in stored]
    assert [i["metadata"] for i in items] == [json.loads(r["metadata"]) for r in stored]
    types = [i["type"] for i in items]
    assert types[0] == "RunRequested"
    assert types.count("LogChunkAppended") == 3, "the log stream is part of the history"
    started = next(i for i in items if i["type"] == "StepStarted")
    assert started["metadata"]["actor"] == "runner-7"
    assert started["metadata"]["correlation_id"] == "corr-42"
    assert started["metadata"]["causation_id"] == "ticket-9"
    assert started["caused_by_delivery"] is None
    assert all(i["schema_version"] == i["stored_schema_version"] == 1 for i in items)
    assert all(i["stream_id"] == world.run_id and i["stream_type"] == "run" for i in items)


async def test_a_page_says_where_the_stream_ends(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    world = await run_world(client, admin)
    await append_logs(client, admin, world.run_id, 1, 5)

    first = (
        await client.get(
            f"/api/v1/pipeline-runs/{world.run_id}/history", params={"limit": 2}, headers=admin
        )
    ).json()
    everything = (
        await client.get(
            f"/api/v1/pipeline-runs/{world.run_id}/history", params={"limit": 1000}, headers=admin
        )
    ).json()

    assert first["limit"] == 2 and first["next_cursor"] is not None
    assert first["stream_version"] == everything["stream_version"] == len(everything["items"])
    assert everything["next_cursor"] is None


async def test_ndjson_streams_a_long_history_whole_and_in_order(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    world = await run_world(client, admin)
    await append_logs(client, admin, world.run_id, 1, 3 * BATCH + 7)
    head = len(await stored_rows(services, world.run_id))

    chunks = []
    # (The test client hands the body over in one piece; the batching itself is tested below.)
    async with client.stream(
        "GET",
        f"/api/v1/pipeline-runs/{world.run_id}/history",
        params={"format": "ndjson"},
        headers=admin,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
    events = ndjson(b"".join(chunks).decode())

    assert [e["version"] for e in events] == list(range(1, head + 1))
    assert sum(e["type"] == "LogChunkAppended" for e in events) == 3 * BATCH + 7
    assert events[-1]["data"]["seq"] == 3 * BATCH + 7
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)


async def test_a_long_read_holds_one_batch_and_no_connection_between_batches(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    world = await run_world(client, admin)
    await append_logs(client, admin, world.run_id, 1, 2 * BATCH + 1)
    head = len(await stored_rows(services, world.run_id))
    async with asyncpg.create_pool(services.settings.database_url, min_size=2, max_size=2) as pool:
        sizes = []
        async for batch in batches(pool, stream_reader(world.run_id, head), "version", 0):
            assert pool.get_idle_size() == pool.get_size(), "no connection held while writing"
            sizes.append(len(batch))

    assert sizes == [BATCH, BATCH, head - 2 * BATCH]


async def test_ndjson_resumes_after_a_cursor(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    world = await run_world(client, admin)
    await append_logs(client, admin, world.run_id, 1, 4)
    page = (
        await client.get(
            f"/api/v1/pipeline-runs/{world.run_id}/history", params={"limit": 3}, headers=admin
        )
    ).json()

    rest = await client.get(
        f"/api/v1/pipeline-runs/{world.run_id}/history",
        params={"format": "ndjson", "cursor": page["next_cursor"]},
        headers=admin,
    )

    versions = [e["version"] for e in ndjson(rest.text)]
    assert versions[0] == 4 and versions == list(range(4, page["stream_version"] + 1))


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJydW5zIiwzXQ"}, "cursor"),  # a cursor of another list
        ({"format": "xml"}, "format"),
        ({"format": "ndjson", "limit": "5"}, "limit"),
        ({"order": "desc"}, "order"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    client: AsyncTestClient, admin: dict[str, str], params: dict[str, str], parameter: str
) -> None:
    world = await run_world(client, admin)

    response = await client.get(
        f"/api/v1/pipeline-runs/{world.run_id}/history", params=params, headers=admin
    )

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_query"
    assert response.json()["parameter"] == parameter


async def test_unknown_runs_and_other_streams_are_404(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    world = await run_world(client, admin)

    for stream_id in (uuid4(), world.pipeline_id, world.project_id):
        response = await client.get(f"/api/v1/pipeline-runs/{stream_id}/history", headers=admin)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"


async def test_another_project_s_key_sees_404_and_a_key_without_read_403(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    world = await run_world(client, admin)
    stranger = await keys.make("read", "audit", project_id=uuid4())
    runner = await keys.make("runner", project_id=UUID(world.project_id))
    auditor = await keys.make("audit", project_id=UUID(world.project_id))
    path = f"/api/v1/pipeline-runs/{world.run_id}/history"

    hidden = await client.get(path, headers=stranger)
    refused = await client.get(path, headers=runner)
    anonymous = await client.get(path)
    allowed = await client.get(path, headers=auditor)

    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert anonymous.status_code == 401
    assert allowed.status_code == 200


async def test_an_event_a_webhook_delivery_caused_names_that_delivery(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    world = await run_world(client, admin)
    delivery, run_id = await webhook_run(services, world)

    items = await history(client, admin, str(run_id))

    assert items[0]["type"] == "RunRequested"
    assert all(i["caused_by_delivery"] is not None for i in items), "one command wrote them all"
    assert items[0]["caused_by_delivery"] == {
        "stream_id": str(delivery.stream_id),
        "event_id": str(delivery.event_id),
        "source_id": str(delivery.source_id),
        "delivery_id": delivery.delivery_id,
        "event": "deploy",
    }
    assert items[0]["metadata"]["causation_id"] == str(delivery.event_id)
    assert items[0]["metadata"]["correlation_id"] == delivery.delivery_id
    assert items[0]["metadata"]["actor"] == "alice"
