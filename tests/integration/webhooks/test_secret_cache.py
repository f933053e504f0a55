"""The API keeps sources and their opened secrets between deliveries: what the source says now
still decides, whichever process changed it (the `services` fixture stands for another one:
its own repository cache, its own secrets)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from commands.context import CommandContext, Principal
from commands.webhook_sources import DisableWebhookSource, RotateWebhookSecret
from tests.helpers import unique_id
from tests.integration.webhooks.support import Sources, sign

BODY = b'{"zen": "Responsive is better than fast.", "hook_id": 7}'
ADMIN = Principal(id="key:admin", name="alice", project_id=None, scopes=frozenset({"admin"}))


@pytest.fixture
def sources(client: AsyncTestClient, admin: dict[str, str]) -> Sources:
    return Sources(client, admin)


async def ping(client: AsyncTestClient, source: dict[str, Any], secret: str) -> int:
    sent = sign("github", secret, BODY, event="ping")
    path = f"/webhooks/github/{source['id']}"
    return (await client.post(path, content=BODY, headers=sent.headers)).status_code


async def elsewhere(services: Services, command: object) -> None:
    """The command sent by another process than the API's."""
    context = CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id=unique_id())
    await services.bus.dispatch(command, context)


async def test_a_secret_rotated_out_elsewhere_stops_verifying_at_the_next_delivery(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    assert await ping(client, source, source["secret"]) == 202  # source and secret now kept
    assert await ping(client, source, source["secret"]) == 202
    new_secret = unique_id("new-secret-")

    await elsewhere(
        services, RotateWebhookSecret(source_id=UUID(source["id"]), secret=new_secret, grace_s=0)
    )

    assert await ping(client, source, source["secret"]) == 401
    assert await ping(client, source, new_secret) == 202


async def test_a_second_rotation_ends_the_first_secret_s_grace_though_it_was_kept(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    second, third = unique_id("second-"), unique_id("third-")
    await elsewhere(services, RotateWebhookSecret(source_id=UUID(source["id"]), secret=second))
    assert await ping(client, source, source["secret"]) == 202  # in its grace: both kept
    assert await ping(client, source, second) == 202

    await elsewhere(services, RotateWebhookSecret(source_id=UUID(source["id"]), secret=third))

    assert await ping(client, source, source["secret"]) == 401
    assert await ping(client, source, second) == 202  # the previous one, in its own grace
    assert await ping(client, source, third) == 202


async def test_a_source_disabled_elsewhere_refuses_the_next_delivery(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    assert await ping(client, source, source["secret"]) == 202

    await elsewhere(services, DisableWebhookSource(source_id=UUID(source["id"]), reason="leak"))

    assert await ping(client, source, source["secret"]) == 404
