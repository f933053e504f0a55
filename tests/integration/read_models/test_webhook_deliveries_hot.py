"""The deliveries view's second write of a row (its outcome) stays on the row's page: a HOT
update, which adds nothing to the table's four indexes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from domain.envelope import EventEnvelope, EventMetadata
from projections.rows import OCCURRED_AT
from projections.webhook_deliveries import WebhookDeliveriesProjection
from tests.integration.read_models.conftest import make_schema

DELIVERIES = 400  # some ten full pages


def _event(stream_id: str, version: int, type: str, data: dict[str, object]) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(),
        position=version,
        stream_id=stream_id,
        stream_type="webhook_delivery",
        version=version,
        type=type,
        schema_version=1,
        recorded_at=datetime.now(UTC),
        data={**data, OCCURRED_AT: datetime.now(UTC).isoformat()},
        metadata=EventMetadata(),
        hash="",
    )


async def test_every_outcome_is_written_in_place(pool: asyncpg.Pool) -> None:
    view = WebhookDeliveriesProjection()
    schema = await make_schema(pool, view)
    source, project = str(uuid.uuid4()), str(uuid.uuid4())
    streams = [str(uuid.uuid4()) for _ in range(DELIVERIES)]
    received = {
        "source_id": source,
        "project_id": project,
        "source_kind": "github",
        "event": "push",
    }
    processed = {"outcome": "triggered", "runs": [str(uuid.uuid4())], "reason": ""}
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                await view.apply(
                    conn,
                    schema,
                    [
                        _event(s, 1, "WebhookReceived", {**received, "delivery_id": s})
                        for s in streams
                    ],
                )
            async with conn.transaction():
                await view.apply(
                    conn,
                    schema,
                    [_event(s, 2, "WebhookDeliveryProcessed", processed) for s in streams],
                )
                table = await conn.fetchval(
                    "SELECT $1::regclass::oid", f"{schema}.webhook_deliveries"
                )
                updated = await conn.fetchval("SELECT pg_stat_get_xact_tuples_updated($1)", table)
                hot = await conn.fetchval("SELECT pg_stat_get_xact_tuples_hot_updated($1)", table)
            outcomes = await conn.fetch(f"SELECT outcome FROM {schema}.webhook_deliveries")
        assert updated == DELIVERIES
        assert hot == DELIVERIES
        assert {r["outcome"] for r in outcomes} == {"triggered"} and len(outcomes) == DELIVERIES
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
