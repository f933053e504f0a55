"""`POST /api/v1/system/notify`: admins of every project only; bad bodies are 4xx."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.api.queries_support import project


async def test_an_admin_sends_a_notice_recorded_as_an_event(client, admin, services) -> None:
    body = {"title": "Deploy freeze", "message": "until Monday", "level": "critical"}
    response = await client.post("/api/v1/system/notify", json=body, headers=admin)

    assert response.status_code == 202, response.text
    [event] = await services.store.read_stream(response.json()["id"])
    assert event.type == "SystemNoticeSent"
    assert (event.data["title"], event.data["level"]) == ("Deploy freeze", "critical")
    assert event.metadata.actor == "root"


async def test_only_an_admin_of_every_project_may(client, admin, keys) -> None:
    home = uuid.UUID(await project(client, admin))
    writer = await keys.make("write")
    project_admin = await keys.make("admin", project_id=home)
    body = {"title": "hello"}

    assert (
        await client.post("/api/v1/system/notify", json=body, headers=writer)
    ).status_code == 403
    refused = await client.post("/api/v1/system/notify", json=body, headers=project_admin)
    assert refused.status_code == 403
    assert (await client.post("/api/v1/system/notify", json=body)).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "x" * 201},
        {"title": "x", "level": "loud"},
        {"title": "x", "message": "m" * 4001},
        {"title": 5},
        {"title": "x", "extra": 1},
        {"title": "a\u0000b"},
    ],
)
async def test_a_bad_notice_is_refused_naming_why(client, admin, body) -> None:
    response = await client.post("/api/v1/system/notify", json=body, headers=admin)
    assert response.status_code in (400, 422), response.text
