"""A keyed request's remembered answer is written without a flush of its own: what that costs
(nothing lost that matters) and what it must not do (leave appends undurable)."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from adapters.http.commanding import REMEMBER_ANSWER
from adapters.platform.services import Services
from tests.helpers import unique_id


async def new_pipeline(client: AsyncTestClient, admin: dict[str, str]) -> str:
    project = await client.post(
        "/api/v1/projects", json={"name": "keyed", "slug": unique_id("k-")[:40]}, headers=admin
    )
    body = {"project_id": project.json()["id"], "name": "ci", "steps": [{"name": "b", "run": "x"}]}
    created = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_an_answer_lost_with_a_database_crash_is_answered_again_from_the_store(
    client: AsyncTestClient, admin: dict[str, str], services: Services
) -> None:
    pipeline = await new_pipeline(client, admin)
    key = unique_id("trigger-")
    headers = {**admin, "Idempotency-Key": key}
    first = await client.post(f"/api/v1/pipelines/{pipeline}/runs", json={}, headers=headers)
    assert first.status_code == 201, first.text
    head = await services.store.head_position()
    # What a crash within the WAL writer's delay would leave: the events, not the answer.
    deleted = await services.store.pool.execute(
        "DELETE FROM http_idempotency WHERE key LIKE $1", f"%:{key}"
    )
    assert deleted == "DELETE 1"

    again = await client.post(f"/api/v1/pipelines/{pipeline}/runs", json={}, headers=headers)

    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert await services.store.head_position() == head  # the store's key: nothing appended


async def test_remembering_an_answer_leaves_the_pooled_connection_durable(
    services: Services,
) -> None:
    async with services.store.pool.acquire() as conn:
        await conn.execute(REMEMBER_ANSWER, unique_id("key:"), "fp", 202, b"{}")
        # The setting was the statement's transaction's only: an append on this connection
        # next still waits for its flush.
        assert await conn.fetchval("SHOW synchronous_commit") == "on"
        async with conn.transaction():
            await conn.execute("SELECT 1")
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
