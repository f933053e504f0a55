"""The API stands on a request's key (`adapters/http/key_credentials.py`): taken unread when kept,
checked by the request's appends, else before its answer goes. And a runner report's remembered
answer, looked up only when the report wrote nothing new."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.platform.admin_key import create_key
from adapters.platform.services import Services
from commands.api_keys import RevokeApiKey
from commands.context import CommandContext, Principal
from tests.helpers import unique_id

ADMIN = Principal(id="admin", name="admin", project_id=None, scopes=frozenset({"admin"}))


async def new_key(services: Services) -> tuple[UUID, dict[str, str]]:
    key_id, token = await create_key(
        services, name="writer", scopes=("admin",), project_id=None, at=datetime.now(UTC)
    )
    return key_id, {"X-API-Key": token}


async def revoke_elsewhere(services: Services, key_id: UUID) -> None:
    """Another process (the tests' own write side) revokes the key."""
    context = CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id="revoke")
    await services.bus.dispatch(RevokeApiKey(key_id=key_id), context)


def project(slug: str = "") -> dict[str, str]:
    return {"name": "standing", "slug": slug or unique_id("st-")[:40]}


async def test_a_write_with_a_key_revoked_elsewhere_is_refused_by_its_append(
    app: Litestar, client: AsyncTestClient, services: Services
) -> None:
    key_id, headers = await new_key(services)
    first = await client.post("/api/v1/projects", json=project(), headers=headers)
    assert first.status_code == 201, first.text  # the API keeps the key from here on
    await revoke_elsewhere(services, key_id)
    head = await services.store.head_position()
    unread = app.state.services.repository.unread_hits

    response = await client.post("/api/v1/projects", json=project(), headers=headers)

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "credentials_revoked"
    assert await services.store.head_position() == head, "nothing written"
    # Authenticated from the kept key, unread: the append's guard refused it.
    assert app.state.services.repository.unread_hits > unread
    again = await client.get("/api/v1/events?limit=1", headers=headers)
    assert again.status_code == 401 and again.json()["code"] == "credentials_revoked"


async def test_a_read_with_a_key_revoked_elsewhere_is_refused_before_its_answer(
    client: AsyncTestClient, services: Services
) -> None:
    key_id, headers = await new_key(services)
    assert (await client.get("/api/v1/events?limit=1", headers=headers)).status_code == 200
    await revoke_elsewhere(services, key_id)

    response = await client.get("/api/v1/events?limit=1", headers=headers)

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "credentials_revoked"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_writes_and_reads_with_a_current_kept_key_are_answered(
    client: AsyncTestClient, services: Services
) -> None:
    _, headers = await new_key(services)
    for _ in range(3):
        created = await client.post("/api/v1/projects", json=project(), headers=headers)
        assert created.status_code == 201, created.text
        listed = await client.get("/api/v1/events?limit=1", headers=headers)
        assert listed.status_code == 200, listed.text


async def run_with_one_step(client: AsyncTestClient, headers: dict[str, str]) -> str:
    created = await client.post("/api/v1/projects", json=project(), headers=headers)
    body = {
        "project_id": created.json()["id"],
        "name": "ci",
        "steps": [{"name": "b", "run": "true"}],
    }
    pipeline = await client.post("/api/v1/pipelines", json=body, headers=headers)
    run = await client.post(
        f"/api/v1/pipelines/{pipeline.json()['id']}/runs", json={}, headers=headers
    )
    assert run.status_code == 201, run.text
    return str(run.json()["id"])


async def test_a_retried_runner_report_gets_its_first_answer_and_writes_nothing(
    client: AsyncTestClient, services: Services
) -> None:
    _, admin = await new_key(services)
    run = await run_with_one_step(client, admin)
    keyed = {**admin, "Idempotency-Key": unique_id("report-")}
    report: dict[str, Any] = {"step": "b", "status": "running", "runner": "r1"}
    url = f"/api/v1/pipeline-runs/{run}/status"

    first = await client.post(url, json=report, headers=keyed)
    head = await services.store.head_position()
    again = await client.post(url, json=report, headers=keyed)
    finished = await client.post(url, json={**report, "status": "succeeded"}, headers=keyed)

    assert first.status_code == 202, first.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert finished.status_code == 422 and finished.json()["code"] == "idempotency_key_reused"
    assert await services.store.head_position() == head
