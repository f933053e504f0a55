"""The webhook ingest takes its source from the process's cache without reading it, and lets the
record's append check it (read guards): a rotation or a disabling committed by another process,
even between the cached read and the append, decides the delivery; a refusal (no append to
check it) stands only once the source it was decided on is found current."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextvars import Context
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest
import pytest_asyncio
from litestar.exceptions import HTTPException
from litestar.testing import AsyncTestClient

from adapters.bootstrap.resources import open_services
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.store.aggregate_cache import CachingRepository
from adapters.webhooks.ingest import Receipt, ingest
from commands.bus import CommandBus
from commands.context import CommandContext
from commands.handlers import HANDLERS
from commands.webhook_sources import DisableWebhookSource, RotateWebhookSecret
from domain.webhook_delivery import delivery_stream_id
from tests.helpers import unique_id
from tests.integration.webhooks.support import Sources, sign
from tests.integration.webhooks.test_secret_cache import ADMIN

BODY = b'{"zen": "Keep it logically awesome.", "hook_id": 9}'


@pytest.fixture
def sources(client: AsyncTestClient, admin: dict[str, str]) -> Sources:
    return Sources(client, admin)


@pytest_asyncio.fixture
async def api(settings: Settings, database_url: str) -> AsyncIterator[Services]:
    """The API's write side: a process of its own, with its own cache of sources."""
    async with open_services(settings, database_url) as services:
        assert isinstance(services.repository, CachingRepository)
        yield services


def cache(services: Services) -> CachingRepository:
    assert isinstance(services.repository, CachingRepository)
    return services.repository


async def deliver(
    services: Services, source: dict[str, Any], secret: str, delivery: str, *, late: float = 0
) -> Receipt:
    """Ingested as if it came `late` seconds from now."""
    sent = sign("github", secret, BODY, event="ping", delivery=delivery)
    return await ingest(
        services,
        kind="github",
        source=source["id"],
        headers={name.lower(): value for name, value in sent.headers.items()},
        query={},
        body=BODY,
        now=datetime.now(UTC) + timedelta(seconds=late),
    )


async def refused(
    services: Services, source: dict[str, Any], secret: str, delivery: str, *, late: float = 0
) -> int:
    with pytest.raises(HTTPException) as refusal:
        await deliver(services, source, secret, delivery, late=late)
    return refusal.value.status_code


async def recorded(services: Services, source: dict[str, Any], delivery: str) -> int:
    stream = delivery_stream_id(UUID(source["id"]), delivery)
    return await services.store.stream_version(str(stream))


async def elsewhere(services: Services, command: object) -> None:
    context = CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id=unique_id())
    await services.bus.dispatch(command, context)


class ChangedBeforeTheRecord:
    """The API's repository, but another process commits `change` just before a record is
    appended: after the source was taken from the cache, before the append that checks it."""

    def __init__(self, repository: CachingRepository, other: Services, *changes: object) -> None:
        self._repository = repository
        self._other = other
        self._changes = list(changes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)

    async def save(self, aggregate: Any, **kwargs: Any) -> Any:
        if self._changes:
            change = self._changes.pop(0)
            # In a context of its own: the other process knows nothing of this request's reads.
            await asyncio.create_task(elsewhere(self._other, change), context=Context())
        return await self._repository.save(aggregate, **kwargs)


def changing(services: Services, other: Services, *changes: object) -> Services:
    """`services`, its bus deciding on the repository above (its cache stays the API's)."""
    dependencies = services.bus._dependencies
    changed = ChangedBeforeTheRecord(cache(services), other, *changes)
    bus = CommandBus(HANDLERS, msgspec.structs.replace(dependencies, repository=changed))  # type: ignore[arg-type]
    return dataclasses.replace(services, bus=bus)


async def test_a_kept_source_is_taken_unread_and_the_record_is_written(
    api: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    await deliver(api, source, source["secret"], unique_id())  # read once, then kept
    before = (cache(api).unread_hits, cache(api).hits, cache(api).misses)

    delivery = unique_id()
    receipt = await deliver(api, source, source["secret"], delivery)

    assert receipt.outcome == "accepted" and not receipt.duplicate
    assert await recorded(api, source, delivery) == 1
    after = (cache(api).unread_hits, cache(api).hits, cache(api).misses)
    assert after == (before[0] + 1, before[1], before[2]), "no read of the source's tail"


async def test_a_rotation_committed_between_the_cached_read_and_the_append_is_seen(
    api: Services, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    await deliver(api, source, source["secret"], unique_id())
    rotation = RotateWebhookSecret(source_id=UUID(source["id"]), secret=unique_id(), grace_s=0)
    delivery = unique_id()

    before = (cache(api).unread_hits, cache(api).hits)

    # Verified with the old secret on the kept source; the append finds the source moved, and
    # the delivery, taken in again on the source as it is now, is refused (it came after the
    # rotation: a delivery from before it would still be in the old secret's time).
    changed = changing(api, services, rotation)
    status = await refused(changed, source, source["secret"], delivery, late=5)

    assert status == 401
    assert (cache(api).unread_hits, cache(api).hits) == (before[0] + 1, before[1] + 1)
    assert await recorded(api, source, delivery) == 0


async def test_a_disabling_committed_between_the_cached_read_and_the_append_is_seen(
    api: Services, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    await deliver(api, source, source["secret"], unique_id())
    disabling = DisableWebhookSource(source_id=UUID(source["id"]), reason="leaked")
    delivery = unique_id()

    status = await refused(changing(api, services, disabling), source, source["secret"], delivery)

    assert status == 404
    assert await recorded(api, source, delivery) == 0


async def test_a_secret_rotated_in_elsewhere_is_accepted_though_the_kept_source_refused_it(
    api: Services, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    await deliver(api, source, source["secret"], unique_id())
    new_secret = unique_id("new-")
    await elsewhere(
        services, RotateWebhookSecret(source_id=UUID(source["id"]), secret=new_secret, grace_s=0)
    )
    delivery = unique_id()

    # The kept source refuses it; a refusal writes nothing to check it, so the source is read:
    # it moved, and the delivery is verified again on it.
    receipt = await deliver(api, source, new_secret, delivery)

    assert receipt.outcome == "accepted"
    assert await recorded(api, source, delivery) == 1


async def test_a_source_enabled_again_elsewhere_accepts_though_the_kept_one_was_disabled(
    api: Services, sources: Sources, services: Services
) -> None:
    source = await sources.register("github")
    await elsewhere(services, DisableWebhookSource(source_id=UUID(source["id"]), reason="pause"))
    assert await refused(api, source, source["secret"], unique_id()) == 404  # kept: disabled
    await sources.command(source["id"], "enable")
    delivery = unique_id()

    receipt = await deliver(api, source, source["secret"], delivery)

    assert receipt.outcome == "accepted"
    assert await recorded(api, source, delivery) == 1


async def test_a_refusal_on_a_current_kept_source_stands_after_one_check(
    api: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    await deliver(api, source, source["secret"], unique_id())
    before = (cache(api).unread_hits, cache(api).hits, cache(api).misses)

    assert await refused(api, source, "not-the-secret", unique_id()) == 401

    after = (cache(api).unread_hits, cache(api).hits, cache(api).misses)
    assert after == (before[0] + 1, before[1], before[2]), "checked, not decided again"


async def test_a_source_that_moves_before_every_attempt_answers_503_and_records_nothing(
    api: Services, services: Services, sources: Sources
) -> None:
    source = await sources.register("github")
    await deliver(api, source, source["secret"], unique_id())
    # Each rotation seals the same secret anew: only the moves refuse the record.
    rotations = [
        RotateWebhookSecret(source_id=UUID(source["id"]), secret=source["secret"], grace_s=0)
        for _ in range(3)
    ]
    delivery = unique_id()

    status = await refused(changing(api, services, *rotations), source, source["secret"], delivery)

    assert status == 503
    assert await recorded(api, source, delivery) == 0
