"""The intake as a role: served by the projector runtime, then seen in the deliveries view."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from adapters.http.reads import webhook_deliveries as queries
from adapters.webhooks.intake import IntakeProcess
from domain.trigger_spec import TriggerSpec
from domain.webhook_delivery import WebhookDelivery
from projections.runtime import Projector
from projections.webhook_deliveries import WebhookDeliveriesProjection
from tests.databases import start_projection_at_head
from tests.helpers import unique_id
from tests.integration.api.conftest import Keys
from tests.integration.webhooks.intake_world import (  # noqa: F401  (the `world` fixture)
    World,
    world_fixture,
)

PATH = "/api/v1/webhook-deliveries"


@pytest_asyncio.fixture
async def role(
    world: World, pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """An intake and a deliveries view of their own, served by one projector; the API reads
    that view."""
    intake = IntakeProcess(
        world.services,
        name=unique_id("intake_")[:40],
        pipelines_schema=world.schema,
        pipelines_view=None,
        builds_schema=None,
    )
    view = WebhookDeliveriesProjection()
    view.name = unique_id("deliveries_")[:40]
    for projection in (intake, view):
        await start_projection_at_head(pool, projection)
    monkeypatch.setattr(queries, "SCHEMA", f"rm_{view.name}")
    monkeypatch.setattr(queries, "VIEWS", (view.name,))
    stop = asyncio.Event()
    task = asyncio.create_task(Projector(database_url, [intake, view], retry_s=0.1).run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        for name in (intake.name, view.name):
            await pool.execute(f"DROP SCHEMA rm_{name} CASCADE")
            await pool.execute("DELETE FROM projection_checkpoints WHERE name = $1", name)


async def outcome_of(world: World, stream: str) -> WebhookDelivery:
    deadline = time.monotonic() + 15
    while True:
        delivery = await world.services.repository.get(WebhookDelivery, UUID(stream))
        if delivery.outcome is not None:
            return delivery
        assert time.monotonic() < deadline, "the intake did not process the delivery"
        await asyncio.sleep(0.05)


async def view_reached(pool: asyncpg.Pool, position: int) -> None:
    (view,) = queries.VIEWS
    async with asyncio.timeout(15):
        query = "SELECT position FROM projection_checkpoints WHERE name = $1"
        while (await pool.fetchval(query, view) or 0) < position:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.mark.usefixtures("role")
async def test_the_role_processes_deliveries_and_the_view_lists_them(
    world: World, client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    project = await world.project()
    source = await world.source(project, "github")
    await world.pipeline(project, TriggerSpec(source="github", events=("push",)))
    await world.catch_up()

    pushed = await world.deliver(source, project, "github/push.branch-created.json")
    pinged = await world.deliver(source, project, "github/ping.json")
    triggered = await outcome_of(world, pushed.stream_id)
    ignored = await outcome_of(world, pinged.stream_id)
    assert triggered.outcome == "triggered" and len(triggered.runs) == 1
    assert ignored.outcome == "ignored"
    head = await world.pool.fetchval("SELECT max(position) FROM events")

    # The view's projector runs on this loop, which the test client blocks while a request
    # waits for `min_position`: let it catch up first.
    await view_reached(world.pool, head)
    params = {"source_id": str(source), "min_position": head}
    page = (await client.get(PATH, params=params, headers=admin)).json()
    assert [(i["id"], i["outcome"]) for i in page["items"]] == [
        (pinged.stream_id, "ignored"),
        (pushed.stream_id, "triggered"),
    ]
    item = page["items"][1]
    assert (item["kind"], item["event"], item["project_id"]) == ("github", "push", str(project))
    assert item["runs"] == [str(triggered.runs[0])]
    assert item["delivery_id"] == pushed.data["delivery_id"]

    only = await client.get(PATH, params={**params, "outcome": "triggered"}, headers=admin)
    assert [i["id"] for i in only.json()["items"]] == [pushed.stream_id]
    by_event = await client.get(PATH, params={**params, "event": "ping"}, headers=admin)
    assert [i["id"] for i in by_event.json()["items"]] == [pinged.stream_id]
    one = await client.get(f"{PATH}/{pushed.stream_id}", headers=admin)
    assert one.status_code == 200 and one.json()["outcome"] == "triggered"

    # A reader bound to another project sees none of it, and is refused naming this one.
    elsewhere = await keys.make("read", project_id=await world.project())
    mine = await client.get(PATH, params={"source_id": str(source)}, headers=elsewhere)
    assert mine.status_code == 200 and mine.json()["items"] == []
    named = await client.get(PATH, params={"project_id": str(project)}, headers=elsewhere)
    assert named.status_code == 403
    hidden = await client.get(f"{PATH}/{pushed.stream_id}", headers=elsewhere)
    assert hidden.status_code == 404


async def test_bad_filters_are_refused(client: AsyncTestClient, admin: dict[str, str]) -> None:
    for params in ({"outcome": "maybe"}, {"source_id": "x"}, {"order_by": "event"}):
        response = await client.get(PATH, params=params, headers=admin)
        assert response.status_code == 422, params
