"""GET /api/v1/events/{id}/trace: causes back to the delivery or command, effects forward."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import asyncpg
from litestar.testing import AsyncTestClient

from adapters.platform.embedded import ServerUrls
from adapters.platform.services import Services
from adapters.store.audit_reader import CAUSED_BY
from tests.databases import own_database
from tests.integration.api.conftest import Keys
from tests.integration.audit.audit_reads_support import history, run_world, webhook_run


async def trace(client: AsyncTestClient, headers: dict[str, str], event_id: object) -> Any:
    response = await client.get(f"/api/v1/events/{event_id}/trace", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def caused_by(services: Services, event_id: object) -> list[str]:
    rows = await services.store.pool.fetch(
        "SELECT event_id FROM events WHERE metadata->>'causation_id' = $1 ORDER BY position",
        str(event_id),
    )
    return [str(row["event_id"]) for row in rows]


async def test_a_delivery_s_trace_reaches_everything_it_caused_even_indirectly(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys, services: Services
) -> None:
    world = await run_world(client, admin)
    delivery, run_id = await webhook_run(services, world)
    requested = (await history(client, admin, str(run_id)))[0]
    # A runner naming the run's first event as the cause of what it reports.
    runner = {**admin, "X-Causation-Id": requested["event_id"]}
    response = await client.post(
        f"/api/v1/pipeline-runs/{run_id}/status",
        json={"step": "build", "status": "running"},
        headers=runner,
    )
    assert response.status_code == 202, response.text
    auditor = await keys.make("audit")

    found = await trace(client, auditor, delivery.event_id)

    direct = await caused_by(services, delivery.event_id)
    indirect = await caused_by(services, requested["event_id"])
    assert found["event"]["type"] == "WebhookReceived"
    assert found["causes"] == []
    assert found["origin"]["kind"] == "webhook_delivery"
    assert found["origin"]["delivery"]["delivery_id"] == delivery.delivery_id
    assert found["origin"]["stream_id"] == str(delivery.stream_id)
    effects = [e["event_id"] for e in found["effects"]]
    assert set(effects) == set(direct) | set(indirect)
    assert [e["position"] for e in found["effects"]] == sorted(
        e["position"] for e in found["effects"]
    )
    assert "WebhookDeliveryProcessed" in {e["type"] for e in found["effects"]}
    assert found["effects_truncated"] is False


async def test_an_effect_s_trace_walks_back_to_the_delivery(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    world = await run_world(client, admin)
    delivery, run_id = await webhook_run(services, world)
    requested, *rest = await history(client, admin, str(run_id))
    runner = {**admin, "X-Causation-Id": requested["event_id"]}
    await client.post(
        f"/api/v1/pipeline-runs/{run_id}/status",
        json={"step": "build", "status": "running"},
        headers=runner,
    )
    started = next(
        e for e in await history(client, admin, str(run_id)) if e["type"] == "StepStarted"
    )

    of_requested = await trace(client, admin, requested["event_id"])
    of_started = await trace(client, admin, started["event_id"])

    assert [c["type"] for c in of_requested["causes"]] == ["WebhookReceived"]
    assert of_requested["origin"]["kind"] == "webhook_delivery"
    assert of_requested["event"]["caused_by_delivery"]["delivery_id"] == delivery.delivery_id
    written_with = [e["event_id"] for e in of_requested["written_with"]]
    same_append = [e["event_id"] for e in rest if e["metadata"] == requested["metadata"]]
    assert written_with == same_append
    assert [c["event_id"] for c in of_started["causes"]] == [
        str(delivery.event_id),
        requested["event_id"],
    ]
    assert of_started["origin"]["delivery"]["event_id"] == str(delivery.event_id)


async def test_a_command_s_event_names_the_command_as_its_origin(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    world = await run_world(client, admin)
    runner = await keys.make("runner", name="runner-3")
    headers = {**runner, "X-Correlation-Id": "deploy-77", "X-Causation-Id": "ticket-12"}
    response = await client.post(
        f"/api/v1/pipeline-runs/{world.run_id}/status",
        json={"step": "build", "status": "running"},
        headers={**headers, "Idempotency-Key": "start-build"},
    )
    assert response.status_code == 202, response.text
    started = next(
        e for e in await history(client, admin, world.run_id) if e["type"] == "StepStarted"
    )

    found = await trace(client, admin, started["event_id"])

    origin = found["origin"]
    assert origin["kind"] == "command"
    assert (origin["actor"], origin["correlation_id"]) == ("runner-3", "deploy-77")
    assert origin["external_causation_id"] == "ticket-12"
    assert origin["idempotency_key"].endswith(":start-build")
    assert (found["causes"], found["effects"]) == ([], [])
    assert "delivery" not in origin


async def test_unknown_events_are_404_and_only_auditors_of_every_project_may_trace(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    world = await run_world(client, admin)
    event_id = (await history(client, admin, world.run_id))[0]["event_id"]
    path = f"/api/v1/events/{event_id}/trace"

    unknown = await client.get(f"/api/v1/events/{uuid4()}/trace", headers=admin)
    malformed = await client.get("/api/v1/events/not-a-uuid/trace", headers=admin)
    extra = await client.get(path, params={"depth": "3"}, headers=admin)
    reader = await client.get(path, headers=await keys.make("read"))
    project_auditor = await client.get(path, headers=await keys.make("audit", project_id=uuid4()))

    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert malformed.status_code == 404
    assert (extra.status_code, extra.json()["parameter"]) == (422, "depth")
    assert (reader.status_code, reader.json()["code"]) == (403, "forbidden")
    assert project_auditor.status_code == 403
    assert (await client.get(path)).status_code == 401


# 20,000 events: every 500th a RunStarted, every 4th caused by an event of its own.
SEED = """
INSERT INTO events
SELECT g, gen_random_uuid(), 'stream-' || (g / 10), 'run', g % 10 + 1,
       CASE WHEN g % 500 = 0 THEN 'RunStarted' ELSE 'LogChunkAppended' END, 1, now(), '{}',
       json_build_object('causation_id', CASE WHEN g % 4 = 0 THEN 'cause-' || g END), '\\x00'
FROM generate_series(1, 20000) AS g
"""


async def test_the_lookups_use_the_audit_indexes_on_a_table_of_some_size(
    server_urls: ServerUrls,
) -> None:
    async with own_database(server_urls, "flowledger_audit_plans") as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(SEED)
            await conn.execute("ANALYZE events")
            caused = await conn.fetch(f"EXPLAIN {CAUSED_BY}", [str(uuid4())], 10)
            by_type = await conn.fetch(
                "EXPLAIN SELECT position FROM events WHERE position > 0 AND type = 'RunStarted' "
                "ORDER BY position LIMIT 10"
            )
        finally:
            await conn.close()

    assert "events_causation" in "\n".join(row[0] for row in caused)
    assert "events_type_position" in "\n".join(row[0] for row in by_type)
