"""Outbound webhook subscriptions over HTTP: create (secret once), list, read, delete, and the
error paths (bad body, limits, unknown id, another project's id, rights)."""

from __future__ import annotations

import uuid

import pytest

from adapters.platform.secrets import SecretUnsealError
from tests.integration.api.queries_support import (
    get,
    project,
)

pytestmark = pytest.mark.usefixtures("projector")


def path(project_id: str) -> str:
    return f"/api/v1/projects/{project_id}/subscriptions"


async def create(client, headers, project_id: str, **body) -> dict:
    body = {"url": "https://hooks.example.com/in", "event_types": ["Run*"]} | body
    response = await client.post(path(project_id), json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_created_with_a_secret_shown_once_then_listed_without_it(
    client, admin, services
) -> None:
    home = await project(client, admin)
    made = await create(client, admin, home, event_types=["RunFailed", "Run*"])

    assert made["secret"].startswith("whsec_")
    listed = await get(client, admin, path(home), at=made["position"], count="true")
    one = await get(client, admin, f"{path(home)}/{made['id']}")
    assert listed["total"] == 1 and listed["items"][0]["id"] == made["id"]
    assert one["url"] == "https://hooks.example.com/in"
    assert one["event_types"] == ["RunFailed", "Run*"]
    assert (one["status"], one["parked"]) == ("enabled", 0)
    assert "secret" not in one and "sealed_secret" not in one
    events = await services.store.read_stream(made["id"])
    assert made["secret"] not in events[0].data["sealed_secret"]
    assert made["secret"].encode() not in repr(events).encode()


async def test_deleted_is_kept_as_deleted_and_cannot_be_deleted_twice(
    client, admin, services
) -> None:
    home = await project(client, admin)
    made = await create(client, admin, home)
    sealed = (await services.store.read_stream(made["id"]))[0].data["sealed_secret"]
    assert await services.box.unseal(sealed) == made["secret"]

    gone = await client.delete(f"{path(home)}/{made['id']}", headers=admin)
    again = await client.delete(f"{path(home)}/{made['id']}", headers=admin)

    assert gone.status_code == 202, gone.text
    assert again.status_code == 409
    one = await get(client, admin, f"{path(home)}/{made['id']}", at=gone.json()["position"])
    assert one["status"] == "deleted"
    with pytest.raises(SecretUnsealError):  # its signing secret is gone with it
        await services.box.unseal(sealed)


async def test_disable_and_enable_with_a_reason(client, admin) -> None:
    home = await project(client, admin)
    made = await create(client, admin, home)
    off = await client.post(
        f"{path(home)}/{made['id']}/disable", json={"reason": "maintenance"}, headers=admin
    )
    assert off.status_code == 202, off.text
    one = await get(client, admin, f"{path(home)}/{made['id']}", at=off.json()["position"])
    assert (one["status"], one["disabled_reason"]) == ("disabled", "maintenance")
    on = await client.post(f"{path(home)}/{made['id']}/enable", headers=admin)
    assert on.status_code == 202


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://x/y", "event_types": ["*"]}, "url"),
        ({"url": "https://u:p@h.example.com/", "event_types": ["*"]}, "url"),
        ({"url": "https://h.example.com/", "event_types": []}, "event_types"),
        ({"url": "https://h.example.com/", "event_types": ["Run Failed"]}, "event_types"),
        ({"url": "https://h.example.com/", "event_types": ["*"] * 51}, "event_types"),
        ({"url": "https://h.example.com/" + "a" * 2000, "event_types": ["*"]}, "url"),
        ({"url": 5, "event_types": ["*"]}, "url"),
        ({"event_types": ["*"]}, "url"),
        ({"url": "https://h.example.com/", "event_types": ["*"], "secret": "x"}, "secret"),
    ],
)
async def test_a_bad_body_is_a_422_naming_the_field(client, admin, body, field) -> None:
    home = await project(client, admin)
    response = await client.post(path(home), json=body, headers=admin)

    assert response.status_code in (400, 422), response.text
    assert field in response.text


async def test_malformed_json_is_a_400(client, admin) -> None:
    home = await project(client, admin)
    response = await client.post(
        path(home), content=b"{nope", headers={**admin, "content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_unknown_project_or_subscription_is_a_404(client, admin) -> None:
    home = await project(client, admin)
    missing = str(uuid.uuid4())
    created = await client.post(
        path(missing), json={"url": "https://h.example.com/", "event_types": ["*"]}, headers=admin
    )
    deleted = await client.delete(f"{path(home)}/{missing}", headers=admin)
    read = await client.get(f"{path(home)}/{missing}", headers=admin)
    deliveries = await client.get(f"{path(home)}/{missing}/deliveries", headers=admin)

    assert [r.status_code for r in (created, deleted, read, deliveries)] == [404] * 4


async def test_another_projects_subscription_is_not_found_through_this_one(client, admin) -> None:
    mine, theirs = await project(client, admin), await project(client, admin)
    made = await create(client, admin, theirs)

    deleted = await client.delete(f"{path(mine)}/{made['id']}", headers=admin)
    read = await client.get(
        f"{path(mine)}/{made['id']}", headers=admin, params={"min_position": made["position"]}
    )

    assert (deleted.status_code, read.status_code) == (404, 404)


async def test_a_project_key_cannot_reach_another_project_nor_subscribe_without_admin(
    client, admin, keys
) -> None:
    mine, theirs = await project(client, admin), await project(client, admin)
    made = await create(client, admin, theirs)
    writer = await keys.make("write", project_id=uuid.UUID(mine))
    their_admin = await keys.make("admin", project_id=uuid.UUID(mine))
    body = {"url": "https://h.example.com/", "event_types": ["*"]}

    no_admin = await client.post(path(mine), json=body, headers=writer)
    elsewhere = await client.post(path(theirs), json=body, headers=their_admin)
    hidden = await client.delete(f"{path(theirs)}/{made['id']}", headers=their_admin)
    listed = await client.get(path(theirs), headers=their_admin)

    assert no_admin.status_code == 403
    assert elsewhere.status_code in (403, 404)
    assert hidden.status_code in (403, 404)
    assert listed.status_code == 403


async def test_resend_of_an_unknown_position_is_refused_cleanly(client, admin) -> None:
    home = await project(client, admin)
    made = await create(client, admin, home)
    bad = await client.post(
        f"{path(home)}/{made['id']}/deliveries/resend",
        json={"message_id": "m", "event_position": 0},
        headers=admin,
    )
    assert bad.status_code in (400, 422)
