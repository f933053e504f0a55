"""A rotated-out signing secret after its grace period (adapters/webhooks/secret_expiry.py):
it stops verifying at once, and the sweeper deletes its kept value and records
`WebhookPreviousSecretRetired` saying why; rotating again retires the older one at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.secrets import SecretUnsealError
from adapters.platform.services import Services
from adapters.webhooks.secret_expiry import SecretSweeper
from tests.helpers import unique_id
from tests.integration.webhooks.support import Sources
from tests.integration.webhooks.test_sources import ping

pytestmark = [pytest.mark.usefixtures("projector"), pytest.mark.timeout(120)]


@pytest.fixture
def sources(client: AsyncTestClient, admin: dict[str, str]) -> Sources:
    return Sources(client, admin)


async def events(services: Services, source_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.type, e.data) for e in await services.store.read_stream(source_id)]


async def kept(services: Services, sealed: str) -> bool:
    ref = UUID(sealed.removeprefix("kept:v1:"))
    found = await services.store.pool.fetchval("SELECT 1 FROM kept_secrets WHERE ref = $1", ref)
    return found is not None


async def view_row(client: AsyncTestClient, admin: dict[str, str], source_id: str) -> dict:
    """The source as the read model shows it once it applied the source's last event."""
    for _ in range(200):
        response = await client.get(f"/api/v1/webhook-sources/{source_id}", headers=admin)
        if response.status_code == 200:
            return dict(response.json())
        await asyncio.sleep(0.05)
    raise AssertionError(response.text)


async def test_a_previous_secret_past_its_grace_is_deleted_and_recorded_why(
    client: AsyncTestClient, admin: dict[str, str], services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    path = f"/webhooks/github/{source['id']}"
    new_secret = unique_id("new-")
    await sources.command(source["id"], "rotate-secret", secret=new_secret, grace_s=2)
    rotated = (await events(services, source["id"]))[-1][1]
    old_ref = rotated["previous_sealed_secret"]
    assert old_ref.startswith("kept:v1:") and await kept(services, old_ref)
    sweeper = SecretSweeper(services.bus.dispatch, services.store.pool, every_s=0.1)

    assert (await ping(client, path, source["secret"])).status_code == 202  # in its grace
    assert UUID(source["id"]) not in await sweeper.sweep(datetime.now(UTC))
    assert await kept(services, old_ref)

    until = datetime.fromisoformat(str(rotated["previous_valid_until"]))
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    # Past its grace it verifies no more, deleted or not.
    assert (await ping(client, path, source["secret"])).status_code == 401
    stop = asyncio.Event()
    sweeping = asyncio.create_task(sweeper.run(stop))
    try:
        for _ in range(200):
            if (await events(services, source["id"]))[-1][0] == "WebhookPreviousSecretRetired":
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await sweeping

    kind, retired = (await events(services, source["id"]))[-1]
    assert kind == "WebhookPreviousSecretRetired"
    assert (retired["sealed_secret"], retired["reason"]) == (old_ref, "grace_period_over")
    assert not await kept(services, old_ref)
    with pytest.raises(SecretUnsealError):
        await services.box.unseal(old_ref)
    assert (await ping(client, path, source["secret"])).status_code == 401
    assert (await ping(client, path, new_secret)).status_code == 202
    # Once: the view no longer lists it as due, and a second retirement is refused.
    for _ in range(200):
        if (await view_row(client, admin, source["id"]))["previous_valid_until"] is None:
            break
        await asyncio.sleep(0.05)
    assert (await view_row(client, admin, source["id"]))["previous_valid_until"] is None
    assert UUID(source["id"]) not in await sweeper.sweep(datetime.now(UTC))
    assert [k for k, _ in await events(services, source["id"])].count(kind) == 1


async def test_rotating_again_retires_the_older_secret_at_once(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    path = f"/webhooks/github/{source['id']}"
    second, third = unique_id("second-"), unique_id("third-")
    await sources.command(source["id"], "rotate-secret", secret=second, grace_s=3600)
    first_ref = (await events(services, source["id"]))[-1][1]["previous_sealed_secret"]
    await sources.command(source["id"], "rotate-secret", secret=third, grace_s=3600)

    (retired_kind, retired), (rotated_kind, _) = (await events(services, source["id"]))[-2:]
    assert (retired_kind, rotated_kind) == ("WebhookPreviousSecretRetired", "WebhookSecretRotated")
    assert (retired["sealed_secret"], retired["reason"]) == (first_ref, "rotated_again")
    assert not await kept(services, first_ref)
    answers = [await ping(client, path, s) for s in (source["secret"], second, third)]
    assert [a.status_code for a in answers] == [401, 202, 202]
