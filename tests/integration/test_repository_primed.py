"""Deliveries loaded to append from what this process read of them (`CachingRepository.prime`,
`get_many_to_append`): body and headers blanked, not read again; the decision and its append are
those of a full read, which is what any delivery not primed gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import pytest_asyncio

from adapters.audit.verify import verify_stream
from adapters.store import EventStore, WrongExpectedVersion
from adapters.store.aggregate_cache import CachingRepository
from adapters.store.primed import PrimedStates
from adapters.store.reader import read_stream_current
from adapters.store.repository import Repository
from domain.envelope import EventEnvelope, EventMetadata
from domain.errors import IllegalTransition
from domain.registry import default_registry
from domain.webhook_delivery import UNREAD_BODY, WebhookDelivery, delivery_stream_id

T0 = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
T1 = T0 + timedelta(seconds=1)
# Kept byte for byte by a full read: escapes, key order and spacing `jsonb` would change.
BODY = '{"ref":"refs/heads/main",  "note":"a\\u00e9\tb", "big": "' + "x" * 9000 + '"}'


@pytest_asyncio.fixture(scope="module")
async def store(database_url: str) -> AsyncIterator[EventStore]:
    store = EventStore(database_url, stream_types=default_registry().stream_types())
    await store.open()
    yield store
    await store.close()


def received() -> WebhookDelivery:
    source = uuid4()
    delivery_id = str(uuid4())
    return WebhookDelivery.receive(
        id=delivery_stream_id(source, delivery_id),
        source_id=source,
        project_id=uuid4(),
        source_kind="github",
        delivery_id=delivery_id,
        event="push",
        headers={"x-github-event": "push"},
        content_type="application/json",
        payload=BODY,
        at=T0,
    )


async def saved(repository: Repository) -> WebhookDelivery:
    delivery = received()
    await repository.save(delivery, metadata=EventMetadata(actor="webhook:gh"))
    return delivery


async def test_a_load_to_append_reads_whole_what_was_not_primed_and_decides_the_same(
    store: EventStore,
) -> None:
    repository = CachingRepository(store, default_registry())
    first, second = await saved(repository), await saved(repository)
    full = await repository.get_many(WebhookDelivery, [first.id])
    full[first.id].record_outcome(outcome="ignored", runs=(), reason="no", at=T1)
    await repository.save_many([(full[first.id], EventMetadata(actor="intake"))])
    repository.prime(await read_stream_current(store.pool, str(second.id)), UNREAD_BODY)

    found = await repository.get_many_to_append(
        WebhookDelivery, [first.id, second.id], unread=UNREAD_BODY
    )

    assert repository.primed_hits == 1
    assert (found[first.id].payload, found[first.id].headers) == (BODY, first.headers)
    assert (found[second.id].payload, found[second.id].headers) == ("", {})
    for one, original in ((found[first.id], first), (found[second.id], second)):
        assert (one.project_id, one.source_id, one.delivery_id, one.event) == (
            original.project_id,
            original.source_id,
            original.delivery_id,
            original.event,
        )
    assert (found[first.id].version, found[first.id].outcome) == (2, "ignored")
    assert (found[second.id].version, found[second.id].outcome) == (1, None)
    # The same outcome again decides nothing; another is refused.
    found[first.id].record_outcome(outcome="ignored", runs=(), reason="no", at=T1)
    assert found[first.id].pending_events == []
    with pytest.raises(IllegalTransition):
        found[first.id].record_outcome(outcome="failed", runs=(), reason="no", at=T1)


async def test_a_primed_delivery_is_loaded_without_reading_its_stream(store: EventStore) -> None:
    repository = CachingRepository(store, default_registry())
    delivery = await saved(repository)
    # As the intake's feed reads it: current, its values opened.
    repository.prime(await read_stream_current(store.pool, str(delivery.id)), UNREAD_BODY)

    found = await repository.get_many_to_append(WebhookDelivery, [delivery.id], unread=UNREAD_BODY)

    assert repository.primed_hits == 1
    one = found[delivery.id]
    assert (one.payload, one.headers, one.version, one.outcome) == ("", {}, 1, None)
    assert (one.project_id, one.delivery_id) == (delivery.project_id, delivery.delivery_id)
    one.record_outcome(outcome="ignored", runs=(), reason="none", at=T1)
    [outcome] = await repository.save_many([(one, EventMetadata(actor="i"))])
    assert not isinstance(outcome, Exception)
    full = await repository.get(WebhookDelivery, delivery.id)
    assert (full.version, full.outcome, full.payload) == (2, "ignored", BODY)
    async with store.pool.acquire() as conn:
        report = await verify_stream(conn, str(delivery.id))
    assert report is not None and report.ok


async def test_a_primed_delivery_whose_stream_moved_on_conflicts(store: EventStore) -> None:
    repository = CachingRepository(store, default_registry())
    delivery = await saved(repository)
    repository.prime(await read_stream_current(store.pool, str(delivery.id)), UNREAD_BODY)
    other = Repository(store, default_registry())  # another intake, meanwhile
    meanwhile = await other.get(WebhookDelivery, delivery.id)
    meanwhile.record_outcome(outcome="ignored", runs=(), reason="first", at=T1)
    await other.save(meanwhile)

    # A plain load reads the stream, primed or not; only a load to append takes the entry.
    fresh = await repository.get_many(WebhookDelivery, [delivery.id])
    stale = await repository.get_many_to_append(WebhookDelivery, [delivery.id], unread=UNREAD_BODY)
    stale[delivery.id].record_outcome(outcome="ignored", runs=(), reason="second", at=T1)
    [outcome] = await repository.save_many([(stale[delivery.id], EventMetadata(actor="i"))])

    assert (fresh[delivery.id].version, fresh[delivery.id].reason) == (2, "first")
    assert repository.primed_hits == 1
    assert isinstance(outcome, WrongExpectedVersion)
    again = await repository.get_many_to_append(WebhookDelivery, [delivery.id], unread=UNREAD_BODY)
    assert (again[delivery.id].version, again[delivery.id].reason) == (2, "first")


async def test_a_primed_delivery_is_for_loads_to_append_leaving_its_fields_unread_only(
    store: EventStore,
) -> None:
    repository = CachingRepository(store, default_registry())
    first, second = await saved(repository), await saved(repository)
    for one in (first, second):
        repository.prime(await read_stream_current(store.pool, str(one.id)), UNREAD_BODY)

    full = await repository.get_many(WebhookDelivery, [first.id])
    other = await repository.get_many_to_append(
        WebhookDelivery, [second.id], unread={"WebhookReceived": {}}
    )

    assert repository.primed_hits == 0
    assert full[first.id].payload == BODY
    assert other[second.id].payload == BODY
    # A plain load leaves the entry for the load to append it was primed for.
    await repository.get_many_to_append(WebhookDelivery, [first.id], unread=UNREAD_BODY)
    assert repository.primed_hits == 1


def test_primed_states_are_bounded_oldest_out() -> None:
    states = PrimedStates(max_entries=2)
    envelopes = [
        EventEnvelope(
            event_id=uuid4(),
            position=n,
            stream_id=str(uuid4()),
            stream_type="webhook_delivery",
            version=1,
            type="WebhookReceived",
            schema_version=1,
            recorded_at=T0,
            data={"payload": "body"},
            metadata=EventMetadata(),
            hash="",
        )
        for n in (1, 2, 3)
    ]
    built: list[dict[str, object]] = []

    states.prime(envelopes, UNREAD_BODY, lambda e: built.append(e.data) or received())

    assert len(states) == 2
    assert built[0]["payload"] == "" and built[0]["headers"] == {}
    assert states.take(envelopes[0].stream_id, UNREAD_BODY, WebhookDelivery) is None
    assert states.take(envelopes[2].stream_id, UNREAD_BODY, WebhookDelivery) is not None
    assert states.take(envelopes[2].stream_id, UNREAD_BODY, WebhookDelivery) is None
