"""A small world for the audit read tests: runs driven through the API, histories read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from adapters.store import NewEvent
from commands.webhook_intake import Candidate, ReceivedDelivery, WebhookIntake
from domain.envelope import EventMetadata
from domain.trigger_spec import TriggerSpec
from domain.webhook_delivery import WebhookDelivery, delivery_stream_id
from tests.helpers import unique_id
from tests.integration.api.queries_support import pipeline, project, report, trigger


class RunWorld:
    """A project with one pipeline and one run in it, and an admin to drive them."""

    def __init__(self, project_id: str, pipeline_id: str, run: dict[str, Any]) -> None:
        self.project_id = project_id
        self.pipeline_id = pipeline_id
        self.run_id: str = run["id"]


async def run_world(client: AsyncTestClient, admin: dict[str, str]) -> RunWorld:
    project_id = await project(client, admin, "audit")
    pipeline_id = await pipeline(client, admin, project_id)
    return RunWorld(project_id, pipeline_id, await trigger(client, admin, pipeline_id))


async def append_logs(
    client: AsyncTestClient, headers: dict[str, str], run_id: str, first: int, count: int
) -> int:
    """Append chunks `first`..`first + count - 1` of the run's own channel; the last position."""
    position = 0
    for start in range(first, first + count, 1000):
        chunks = [
            {"seq": seq, "text": f"line {seq}\n"}
            for seq in range(start, min(start + 1000, first + count))
        ]
        response = await client.post(
            f"/api/v1/pipeline-runs/{run_id}/logs", json={"chunks": chunks}, headers=headers
        )
        assert response.status_code == 202, response.text
        position = response.json()["position"]
    return position


async def history(
    client: AsyncTestClient, headers: dict[str, str], run_id: str, **params: Any
) -> list[dict[str, Any]]:
    """Every item of the run's history, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(
            f"/api/v1/pipeline-runs/{run_id}/history", params=query, headers=headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def webhook_run(services: Services, world: RunWorld) -> tuple[ReceivedDelivery, UUID]:
    """A generic delivery recorded as the ingest records it, then processed by the real
    webhook process manager into a run of the world's pipeline: the delivery and the run."""
    now = datetime.now(UTC)
    source_id, delivery_id = uuid4(), unique_id("delivery-")
    payload = json.dumps({"type": "deploy", "ref": "refs/heads/main", "actor": "alice"})
    delivery = WebhookDelivery.receive(
        id=delivery_stream_id(source_id, delivery_id),
        source_id=source_id,
        project_id=UUID(world.project_id),
        source_kind="generic",
        delivery_id=delivery_id,
        event="deploy",
        headers={},
        content_type="application/json",
        payload=payload,
        at=now,
    )
    metadata = EventMetadata(correlation_id=delivery_id, actor="webhook:audit-source")
    saved = await services.repository.save(delivery, metadata=metadata)
    assert saved is not None
    received = ReceivedDelivery(
        stream_id=delivery.id,
        event_id=saved.event_ids[0],
        position=saved.last_position,
        source_id=source_id,
        project_id=UUID(world.project_id),
        source_kind="generic",
        delivery_id=delivery_id,
        event="deploy",
        content_type="application/json",
        payload=payload,
        correlation_id=delivery_id,
    )

    async def candidates(_project: UUID, *, position: int) -> list[Candidate]:
        triggers = (TriggerSpec(source="generic", events=("deploy",)),)
        return [
            Candidate(
                pipeline_id=UUID(world.pipeline_id), name="ci", active=True, triggers=triggers
            )
        ]

    intake = WebhookIntake(services.bus.dispatch, services.repository, candidates)
    outcome = await intake.handle(received, at=now)
    assert outcome.outcome == "triggered", outcome
    return received, outcome.runs[0]


async def feed(
    client: AsyncTestClient, headers: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Follow `next_after` while pages are full: every item, and the last page."""
    items: list[dict[str, Any]] = []
    while True:
        response = await client.get("/api/v1/events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not page["more"]:
            return items, page
        params["after"] = page["next_after"]


async def stored_after(services: Services, after: int) -> list[dict[str, Any]]:
    rows = await services.store.pool.fetch(
        "SELECT position, type, stream_type, recorded_at FROM events WHERE position > $1 "
        "ORDER BY position",
        after,
    )
    return [dict(row) for row in rows]


async def legacy_project(services: Services) -> UUID:
    """A ProjectCreated stored at schema v1 (before projects had a description)."""
    project_id = uuid4()
    data = {
        "name": "legacy",
        "slug": unique_id("legacy-")[:40],
        "occurred_at": "2019-05-01T00:00:00Z",
    }
    await services.store.append(
        str(project_id),
        "project",
        [NewEvent(type="ProjectCreated", schema_version=1, data=data)],
        expected_version=0,
        metadata=EventMetadata(actor="2019 importer"),
    )
    return project_id


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line]


async def stored_rows(services: Services, stream_id: str) -> list[dict[str, Any]]:
    """The stream's rows straight from the table, as an auditor with database access sees them."""
    rows = await services.store.pool.fetch(
        "SELECT event_id, position, version, type, schema_version, data::text AS data, "
        "metadata::text AS metadata, encode(hash, 'hex') AS hash FROM events "
        "WHERE stream_id = $1 ORDER BY version",
        stream_id,
    )
    return [dict(row) for row in rows]


__all__ = [
    "RunWorld",
    "append_logs",
    "feed",
    "history",
    "legacy_project",
    "ndjson",
    "report",
    "run_world",
    "stored_after",
    "stored_rows",
    "webhook_run",
]
