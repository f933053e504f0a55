"""Bad input gets a clear problem (RFC 9457) with a stable code, and writes nothing."""

from __future__ import annotations

from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from adapters.store import EventStore


async def test_a_body_that_is_not_json_is_400(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/projects",
        content=b"{not json",
        headers={**admin, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "malformed_json"


@pytest.mark.parametrize(
    "body",
    [
        {"name": 42, "slug": "ok-slug"},
        {"slug": "missing-name"},
        {"name": "x", "slug": "y-z", "surprise": True},
        [1, 2, 3],
    ],
    ids=["wrong-type", "missing-field", "unknown-field", "not-an-object"],
)
async def test_invalid_bodies_are_422_naming_the_problem(
    client: AsyncTestClient, admin: dict[str, str], services, body: object
) -> None:
    store: EventStore = services.store
    head = await store.head_position()

    response = await client.post("/api/v1/projects", json=body, headers=admin)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_input"
    assert response.json()["detail"]
    assert await store.head_position() == head


async def test_an_oversized_body_is_413(client: AsyncTestClient, admin: dict[str, str]) -> None:
    body = {"name": "x", "slug": "big-one", "description": "y" * (300 * 1024)}

    response = await client.post("/api/v1/projects", json=body, headers=admin)

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


async def test_an_unknown_id_is_404(client: AsyncTestClient, admin: dict[str, str]) -> None:
    response = await client.delete(f"/api/v1/pipelines/{uuid4()}", headers=admin)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "credentials_missing"),
        ({"X-API-Key": "flk_nonsense"}, "credentials_invalid"),
        ({"Authorization": "Bearer not.a.jwt"}, "credentials_invalid"),
    ],
    ids=["none", "bad-key", "bad-jwt"],
)
async def test_missing_or_bad_credentials_are_401(
    client: AsyncTestClient, headers: dict, code: str
) -> None:
    response = await client.post(
        "/api/v1/projects", json={"name": "x", "slug": "y-z"}, headers=headers
    )

    assert response.status_code == 401
    assert response.json()["code"] == code


def project(name: str) -> dict[str, str]:
    return {"name": name, "slug": f"{name}-{uuid4().hex[:8]}"}


async def test_an_issued_key_is_shown_once_works_and_stops_at_once_when_revoked(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    issued = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": ["admin"]}, headers=admin
    )
    assert issued.status_code == 201, issued.text
    key = {"X-API-Key": issued.json()["secret"]}
    [event] = await services.store.read_stream(issued.json()["id"])
    assert key["X-API-Key"] not in str(event.data)

    before = await client.post("/api/v1/projects", json=project("before"), headers=key)
    revoked = await client.delete(f"/api/v1/api-keys/{issued.json()['id']}", headers=admin)
    after = await client.post("/api/v1/projects", json=project("after"), headers=key)

    assert (before.status_code, revoked.status_code) == (201, 202)
    assert after.status_code == 401
    assert after.json()["code"] == "credentials_revoked"


async def test_a_webhook_secret_never_appears_in_clear_in_the_store(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    created = await client.post("/api/v1/projects", json=project("w"), headers=admin)
    project_id = created.json()["id"]
    secret = "correct-horse-battery-staple-0123"

    response = await client.post(
        "/api/v1/webhook-sources",
        json={"project_id": project_id, "kind": "github", "name": "main-repo", "secret": secret},
        headers=admin,
    )

    assert response.status_code == 201, response.text
    assert "secret" not in response.json()
    [event] = await services.store.read_stream(response.json()["id"])
    assert secret not in str(event.data)
    assert await services.box.unseal(event.data["sealed_secret"]) == secret
