"""Copies of one delivery: recorded once even when they race, answered with the first outcome.

These call `ingest` on the tests' own services: the test client serves one request at a time,
so only a direct call can make two copies really race for the store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import pytest
from litestar.testing import AsyncTestClient

from adapters.platform.services import Services
from adapters.webhooks.ingest import Receipt, ingest
from domain.webhook_delivery import WebhookDelivery
from tests.integration.webhooks.support import FIXTURES, Sources, sign

BODY = (FIXTURES / "github" / "push.branch-created.json").read_bytes()


@pytest.fixture
def sources(client: AsyncTestClient, admin: dict[str, str]) -> Sources:
    return Sources(client, admin)


async def deliver(services: Services, source: dict, headers: dict[str, str]) -> Receipt:
    return await ingest(
        services,
        kind="github",
        source=source["id"],
        headers={name.lower(): value for name, value in headers.items()},
        query={},
        body=BODY,
        now=datetime.now(UTC),
    )


@pytest.mark.parametrize("copies", [2, 8])
async def test_copies_arriving_at_once_are_recorded_once(
    services: Services, sources: Sources, copies: int
) -> None:
    source = await sources.register("github")
    headers = sign("github", source["secret"], BODY, event="push").headers

    receipts = await asyncio.gather(*(deliver(services, source, headers) for _ in range(copies)))

    assert len({(r.delivery, r.position) for r in receipts}) == 1
    assert sorted(r.duplicate for r in receipts) == [False] + [True] * (copies - 1)
    assert len(await services.store.read_stream(str(receipts[0].delivery))) == 1


async def test_a_redelivery_after_processing_answers_with_the_recorded_outcome(
    client: AsyncTestClient, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    sent = sign("github", source["secret"], BODY, event="push")
    path = f"/webhooks/github/{source['id']}"
    first = await client.post(path, content=BODY, headers=sent.headers)
    run = UUID("0195f1d0-0000-7000-8000-00000000abcd")
    # What the process manager does once it has triggered the runs.
    delivery = await services.repository.get(WebhookDelivery, UUID(first.json()["delivery"]))
    delivery.record_outcome(outcome="triggered", runs=[run], reason="", at=datetime.now(UTC))
    await services.repository.save(delivery)

    again = await client.post(path, content=BODY, headers=sent.headers)

    assert again.status_code == 200
    assert again.json() == {
        **first.json(),
        "duplicate": True,
        "processed": {"outcome": "triggered", "runs": [str(run)], "reason": ""},
    }
    assert len(await services.store.read_stream(first.json()["delivery"])) == 2
