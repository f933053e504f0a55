"""GET /api/v1/projections: each projection's position, lag and state, for all-projects readers."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
from litestar.testing import AsyncTestClient

from adapters.store import EventStore
from projections.runtime import Projector
from tests.helpers import unique_id
from tests.integration.api.conftest import Keys
from tests.integration.projections.counting import Counts, append, caught_up, running, wait_until


async def test_it_shows_position_lag_and_state(
    client: AsyncTestClient, admin: dict[str, str], pool: asyncpg.Pool, database_url: str
) -> None:
    tick = unique_id("Ticked")
    name = unique_id("counts_")
    async with EventStore(database_url, stream_types={"run"}) as store:
        await append(store, tick, [unique_id("shown-")], 5)
        async with running(Projector(database_url, [Counts(name, {tick})], owner="here:1")):
            await wait_until(lambda: caught_up(pool, name), what="caught up")
            answer = await client.get("/api/v1/projections", headers=admin)
        # stopped, and now behind
        head = await append(store, tick, [unique_id("shown-")], 3)

    assert answer.status_code == 200, answer.text
    shown = {p["name"]: p for p in answer.json()["projections"]}[name]
    assert shown["version"] == 1 and shown["state"] == "running" and shown["owner"] == "here:1"
    assert shown["lag_events"] == 0 and shown["lag_seconds"] == 0
    assert shown["position"] == shown["head"]
    assert shown["error"] is None and shown["error_position"] is None
    assert "updated_at" in shown

    later = await client.get("/api/v1/projections", headers=admin)
    behind = {p["name"]: p for p in later.json()["projections"]}[name]
    assert behind["state"] == "stopped" and behind["owner"] is None
    assert behind["head"] >= head and behind["lag_events"] >= 3 and behind["lag_seconds"] >= 0


async def test_it_needs_read_or_audit_over_every_project(
    client: AsyncTestClient, keys: Keys
) -> None:
    assert (await client.get("/api/v1/projections")).status_code == 401
    for scope in ("read", "audit"):
        headers = await keys.make(scope)
        assert (await client.get("/api/v1/projections", headers=headers)).status_code == 200
    one_project = await keys.make("read", "audit", project_id=uuid4())
    refused = await client.get("/api/v1/projections", headers=one_project)
    assert refused.status_code == 403
    assert (
        await client.get("/api/v1/projections", headers=await keys.make("write"))
    ).status_code == 403
