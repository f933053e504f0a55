"""Trying to break the ledger through its front doors, with values at and past every limit.

Each example goes through the real HTTP API on the embedded servers. Every answer must be a
2xx, or a 4xx problem (`application/problem+json` with a `code`) that wrote nothing. At the
end, the webhook intake processes every delivery accepted here and every read model takes
every event written here: none may fail, so none would stop at the head; and the live
projector, as `GET /api/v1/projections` reports it, has every view at the head, running,
with none of the streams written here quarantined.
Bounded for the suite (a few dozen examples a door); `bench/boundary_soak.py` runs longer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.platform.services import Services
from adapters.store import reader
from adapters.webhooks.intake import IntakeProcess
from projections.catalog import ALL
from projections.pipelines import PipelinesProjection
from tests.integration.boundary import payloads, strategies
from tests.integration.boundary.conftest import Ledger
from tests.integration.read_models.conftest import apply_in_batches, make_schema
from tests.integration.webhooks.support import sign

EXAMPLES = int(os.environ.get("FLOWLEDGER_BOUNDARY_EXAMPLES", "40"))
BATCHES = (1, 7, 500)
"""Small batches as well as large: a handler must not depend on what shares its batch."""
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


async def sound(ledger: Ledger, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """Send one request; its answer is a 2xx, or a 4xx problem after which the head stayed."""
    head = await reader.head(ledger.pool)
    answer = await send()
    if answer.status_code < 300:
        assert answer.status_code >= 200, answer.text
        return answer
    assert 400 <= answer.status_code < 500, f"{answer.status_code}: {answer.text[:500]}"
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    assert "code" in answer.json(), answer.text[:500]
    assert await reader.head(ledger.pool) == head, f"refused yet written: {answer.text[:500]}"
    return answer


def _raw(body: Any) -> bytes:
    # json.dumps escapes a NUL and a lone surrogate (\u0000, \ud800): valid JSON text, bad data.
    return json.dumps(body).encode()


async def _post(ledger: Ledger, path: str, body: Any) -> httpx.Response:
    headers = {**ledger.admin, "Content-Type": "application/json"}
    return await sound(
        ledger, lambda: ledger.client.post(path, content=_raw(body), headers=headers)
    )


@BOUNDED
@given(body=strategies.run_request())
async def test_triggering_runs(ledger: Ledger, body: dict[str, Any]) -> None:
    await _post(ledger, f"/api/v1/pipelines/{ledger.pipeline}/runs", body)


@BOUNDED
@given(body=strategies.step_report())
async def test_reporting_steps(ledger: Ledger, body: dict[str, Any]) -> None:
    run = await ledger.run()
    await _post(ledger, f"/api/v1/pipeline-runs/{run}/status", body)


@BOUNDED
@given(body=strategies.log_append())
async def test_appending_logs(ledger: Ledger, body: dict[str, Any]) -> None:
    run = await ledger.run()
    await _post(ledger, f"/api/v1/pipeline-runs/{run}/logs", body)


@BOUNDED
@given(body=strategies.project())
async def test_creating_projects(ledger: Ledger, body: dict[str, Any]) -> None:
    await _post(ledger, "/api/v1/projects", body)


@BOUNDED
@given(data=st.data())
async def test_defining_pipelines(ledger: Ledger, data: st.DataObject) -> None:
    await _post(ledger, "/api/v1/pipelines", data.draw(strategies.pipeline(ledger.project)))


@BOUNDED
@given(body=strategies.runner())
async def test_registering_runners(ledger: Ledger, body: dict[str, Any]) -> None:
    await _post(ledger, "/api/v1/runners", body)


@BOUNDED
@given(delivery=payloads.deliveries(), redelivered=st.booleans())
async def test_signed_deliveries(
    ledger: Ledger, delivery: tuple[str, str, dict[str, Any]], redelivered: bool
) -> None:
    kind, event, body = delivery
    raw, source = _raw(body), ledger.sources[kind]
    signed = sign(kind, source["secret"], raw, event=event, delivery=f"fuzz-{next(ledger.sent)}")
    path = f"/webhooks/{kind}/{source['id']}"
    for _ in range(2 if redelivered else 1):
        await sound(
            ledger,
            lambda: ledger.client.post(
                path, content=raw, headers=signed.headers, params=signed.params
            ),
        )


@pytest.mark.usefixtures("projector")
async def test_afterwards_the_intake_and_every_read_model_take_every_event(
    ledger: Ledger, services: Services
) -> None:
    """Last in the module: what the examples above wrote is processed and projected."""
    pool = ledger.pool
    pipelines = await make_schema(pool, PipelinesProjection())
    intake = IntakeProcess(
        services, pipelines_schema=pipelines, pipelines_view=None, builds_schema=None
    )
    try:
        # 1. Every accepted delivery processed (its runs started), the pipelines view kept up.
        upto = await reader.head(pool)
        events = await reader.read_range(pool, ledger.start, upto)
        await apply_in_batches(pool, PipelinesProjection(), pipelines, events)
        received = [e for e in events if e.type == "WebhookReceived"]
        for envelope in received:
            await intake.process(envelope)
    finally:
        await pool.execute(f"DROP SCHEMA {pipelines} CASCADE")
    events = await reader.read_range(pool, ledger.start, await reader.head(pool))
    processed = {e.stream_id for e in events if e.type == "WebhookDeliveryProcessed"}
    assert {e.stream_id for e in received} <= processed, "a delivery was left unprocessed"
    # 2. Every read model takes every event: none would stop, all reach the head.
    for projection in ALL:
        schema = await make_schema(pool, projection)
        try:
            await apply_in_batches(pool, projection, schema, events, sizes=itertools.cycle(BATCHES))
        finally:
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")
    # 3. The live projector, as the API reports it, took them too: each view at the head,
    # running; and none of the streams written here quarantined (the session's database is
    # shared: a stream another module left behind is not this module's to judge).
    await _live_views_at(ledger, await reader.head(pool))
    quarantined = await pool.fetch(
        "SELECT projection, stream_id, type, error FROM projection_quarantine"
        " WHERE stream_id = ANY($1::text[])",
        sorted({e.stream_id for e in events}),
    )
    assert [dict(row) for row in quarantined] == []


async def _live_views_at(ledger: Ledger, head: int, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while True:
        answer = await ledger.client.get("/api/v1/projections", headers=ledger.admin)
        assert answer.status_code == 200, answer.text
        views = {view["name"]: view for view in answer.json()["projections"]}
        served = [views.get(projection.name) for projection in ALL]
        if all(view is not None and view["position"] >= head for view in served):
            break
        assert time.monotonic() < deadline, f"the live views did not reach {head}: {views}"
        await asyncio.sleep(0.2)
    for view in served:
        assert view is not None
        assert (view["name"], view["state"], view["error"]) == (view["name"], "running", None)
