"""Which source a delivery reaches: by id or name, enabled, of its kind, with its secrets."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from tests.helpers import unique_id
from tests.integration.webhooks.support import Delivery, Sources, sign

BODY = b'{"zen": "Anything added dilutes everything else.", "hook_id": 1}'


@pytest.fixture
def sources(client: AsyncTestClient, admin: dict[str, str]) -> Sources:
    return Sources(client, admin)


async def ping(
    client: AsyncTestClient, path: str, secret: str, *, kind: str = "github", **params: str
) -> Any:
    sent: Delivery = sign(kind, secret, BODY, event="ping")
    return await client.post(path, content=BODY, headers=sent.headers, params=params)


async def caught_up(client: AsyncTestClient, admin: dict[str, str], source: dict) -> None:
    """Wait until the webhook sources read model has applied the source's last event."""
    response = await client.get(
        f"/api/v1/webhook-sources/{source['id']}",
        params={"min_position": source["position"]},
        headers=admin,
    )
    assert response.status_code == 200, response.text


async def test_an_unknown_disabled_or_other_kind_of_source_is_not_found(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    github = await sources.register("github")
    gitlab = await sources.register("gitlab")
    disabled = await sources.register("github")
    await sources.command(disabled["id"], "disable", reason="leaked")
    head = await services.store.head_position()

    answers = [
        await ping(client, f"/webhooks/github/{unique_id()}", github["secret"]),
        await ping(client, "/webhooks/github/0195f1d0-0000-7000-8000-000000000000", "x" * 16),
        await ping(client, f"/webhooks/github/{disabled['id']}", disabled["secret"]),
        await ping(client, f"/webhooks/github/{gitlab['id']}", gitlab["secret"]),
        await ping(client, f"/webhooks/gitlab/{github['id']}", github["secret"], kind="gitlab"),
        await ping(client, f"/webhooks/bitbucket/{github['id']}", github["secret"]),
        await ping(client, "/webhooks/github", github["secret"]),
    ]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert {a.json()["code"] for a in answers} == {"unknown_source"}
    assert await services.store.head_position() == head


async def test_a_source_enabled_again_accepts_deliveries_again(
    client: AsyncTestClient, sources: Sources
) -> None:
    source = await sources.register("github")
    await sources.command(source["id"], "disable")
    await sources.command(source["id"], "enable")

    response = await ping(client, f"/webhooks/github/{source['id']}", source["secret"])

    assert response.status_code == 202, response.text


async def test_the_source_may_be_named_by_a_query_parameter(
    client: AsyncTestClient, sources: Sources
) -> None:
    source = await sources.register("github")

    response = await ping(client, "/webhooks/github", source["secret"], source=source["id"])

    assert response.status_code == 202, response.text


@pytest.mark.usefixtures("projector")
async def test_the_source_may_be_named_by_its_name(
    client: AsyncTestClient, admin: dict[str, str], sources: Sources
) -> None:
    source = await sources.register("github")
    await caught_up(client, admin, source)

    by_path = await ping(client, f"/webhooks/github/{source['name']}", source["secret"])
    by_query = await ping(client, "/webhooks/github", source["secret"], source=source["name"])

    assert (by_path.status_code, by_query.status_code) == (202, 202), by_path.text


@pytest.mark.usefixtures("projector")
async def test_a_name_two_projects_use_is_ambiguous_and_the_id_is_not(
    client: AsyncTestClient, admin: dict[str, str], sources: Sources
) -> None:
    name = unique_id("shared-")[:40]
    first = await sources.register("github", name=name)
    second = await sources.register("github", name=name)
    other_kind = await sources.register("gitlab", name=name)
    await caught_up(client, admin, second)
    await caught_up(client, admin, other_kind)

    by_name = await ping(client, f"/webhooks/github/{name}", first["secret"])
    by_id = await ping(client, f"/webhooks/github/{first['id']}", first["secret"])
    other = await ping(client, f"/webhooks/gitlab/{name}", other_kind["secret"], kind="gitlab")

    assert by_name.status_code == 409
    assert by_name.json()["code"] == "ambiguous_source"
    assert (by_id.status_code, other.status_code) == (202, 202)


async def test_the_previous_secret_works_during_its_grace_period_only(
    client: AsyncTestClient, sources: Sources
) -> None:
    graced = await sources.register("github")
    cut = await sources.register("github")
    await sources.command(graced["id"], "rotate-secret", secret=unique_id("new-"))
    new_secret = unique_id("new-")
    await sources.command(cut["id"], "rotate-secret", secret=new_secret, grace_s=0)

    old_during_grace = await ping(client, f"/webhooks/github/{graced['id']}", graced["secret"])
    old_after_grace = await ping(client, f"/webhooks/github/{cut['id']}", cut["secret"])
    new = await ping(client, f"/webhooks/github/{cut['id']}", new_secret)

    assert old_during_grace.status_code == 202, old_during_grace.text
    assert (old_after_grace.status_code, new.status_code) == (401, 202)


async def test_get_webhooks_test_lists_the_endpoints_and_nothing_about_any_source(
    client: AsyncTestClient, sources: Sources
) -> None:
    source = await sources.register("generic")

    response = await client.get("/webhooks/test")

    assert response.status_code == 200
    listed = response.json()["endpoints"]
    assert [e["kind"] for e in listed] == ["github", "gitlab", "jenkins", "generic"]
    assert "/webhooks/generic?source={source}" in listed[3]["paths"]
    assert source["id"] not in response.text
    assert source["name"] not in response.text
