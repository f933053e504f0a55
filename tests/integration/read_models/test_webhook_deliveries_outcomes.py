"""The deliveries view writes an outcome whose delivery came in an earlier batch by one UPDATE,
without loading the row. Whatever the batches, its rows are those the whole-row fold makes of
every event at once; an outcome of a delivery the view never saw is still refused."""

from __future__ import annotations

import itertools
import uuid

import asyncpg
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import webhook_deliveries
from projections.rows import MissingRow
from projections.webhook_deliveries import WebhookDeliveriesProjection
from tests.integration.read_models.conftest import apply_in_batches, make_schema
from tests.integration.read_models.test_webhook_deliveries_hot import _event

VIEW = WebhookDeliveriesProjection()
RECEIVED = {"source_id": str(uuid.uuid4()), "project_id": str(uuid.uuid4()),
            "source_kind": "github", "event": "push"}  # fmt: skip
outcomes = st.fixed_dictionaries(
    {
        "outcome": st.sampled_from(["triggered", "ignored", "rejected"]),
        "runs": st.lists(st.uuids().map(str), max_size=2),
        "reason": st.text(
            st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=5
        ),
    }
)
# Per delivery, its outcomes (none to two); and where the feed is cut into batches.
plans = st.tuples(
    st.lists(st.lists(outcomes, max_size=2), min_size=1, max_size=8),
    st.lists(st.integers(1, 6), min_size=1, max_size=8),
)


def events_of(deliveries: list[list[dict]]) -> list:
    """Each delivery received, the outcomes after, interleaved across deliveries."""
    streams = [str(uuid.uuid4()) for _ in deliveries]
    per_stream = [
        [_event(s, 1, "WebhookReceived", {**RECEIVED, "delivery_id": s})]
        + [_event(s, n + 2, "WebhookDeliveryProcessed", o) for n, o in enumerate(outs)]
        for s, outs in zip(streams, deliveries, strict=True)
    ]
    ordered = [e for round_ in itertools.zip_longest(*per_stream) for e in round_ if e]
    return [msgspec.structs.replace(e, position=n + 1) for n, e in enumerate(ordered)]


def folded(events: list) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for event in events:
        if event.type == "WebhookReceived":
            rows[event.stream_id] = {}
        webhook_deliveries._fold(rows[event.stream_id], event)
        rows[event.stream_id]["stream_version"] = event.version
    return rows


SAVED = (
    "SELECT id::text, outcome, runs::text[], reason, processed_at, stream_version, received_at "
    "FROM {}.webhook_deliveries"
)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
async def test_rows_are_the_fold_of_every_event_whatever_the_batches(
    pool: asyncpg.Pool, plan: tuple[list[list[dict]], list[int]]
) -> None:
    deliveries, cuts = plan
    events = events_of(deliveries)
    schema = await make_schema(pool, VIEW)
    try:
        await apply_in_batches(pool, VIEW, schema, events, itertools.cycle(cuts))
        async with pool.acquire() as conn:
            saved = {r["id"]: dict(r) for r in await conn.fetch(SAVED.format(schema))}
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
    expected = folded(events)
    assert set(saved) == set(expected)
    for stream, row in expected.items():
        got = saved[stream]
        assert (got["outcome"], got["runs"], got["reason"], got["stream_version"]) == (
            row["outcome"], row["runs"], row["reason"], row["stream_version"]
        )  # fmt: skip
        assert (got["processed_at"] is None) == (row["processed_at"] is None)
        if row["processed_at"] is not None:
            assert got["processed_at"].isoformat() == row["processed_at"]


async def test_an_outcome_of_a_delivery_never_received_is_refused(pool: asyncpg.Pool) -> None:
    schema = await make_schema(pool, VIEW)
    known, unknown = str(uuid.uuid4()), str(uuid.uuid4())
    outcome = {"outcome": "ignored", "runs": [], "reason": "ping"}
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                received = {**RECEIVED, "delivery_id": known}
                await VIEW.apply(conn, schema, [_event(known, 1, "WebhookReceived", received)])
            later = [
                _event(known, 2, "WebhookDeliveryProcessed", outcome),
                msgspec.structs.replace(
                    _event(unknown, 2, "WebhookDeliveryProcessed", outcome), position=7
                ),
            ]
            with pytest.raises(MissingRow, match="WebhookDeliveryProcessed at 7 before any"):
                async with conn.transaction():
                    await VIEW.apply(conn, schema, later)
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")
