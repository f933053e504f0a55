"""Ids minted per command (event ids, correlation ids): random version-4 UUIDs, all distinct,
and of the types the store and the metadata hold (a stdlib UUID, a canonical string)."""

from __future__ import annotations

import uuid

from adapters.http.commanding import command_context
from adapters.store.encoding import NewEvent, prepare_events
from commands.context import Principal
from domain.envelope import EventMetadata

PRINCIPAL = Principal(id="k1", name="bench", project_id=None, scopes=frozenset({"admin"}))


def prepared_ids(count: int) -> list[uuid.UUID]:
    prepared = prepare_events(
        events=[NewEvent(type="happened", data={"n": n}) for n in range(count)],
        metadata=EventMetadata(),
        max_event_bytes=1024,
    )
    return [event.event_id for event in prepared]


def test_event_ids_are_distinct_version_4_stdlib_uuids() -> None:
    ids = prepared_ids(500) + prepared_ids(500)

    assert len(set(ids)) == 1000
    assert all(type(event_id) is uuid.UUID and event_id.version == 4 for event_id in ids)


def test_an_event_id_given_is_kept() -> None:
    given = uuid.uuid4()
    prepared = prepare_events(
        events=[NewEvent(type="happened", data={}, event_id=given)],
        metadata=EventMetadata(),
        max_event_bytes=1024,
    )

    assert prepared[0].event_id == given


def test_correlation_ids_are_distinct_canonical_version_4_uuids() -> None:
    ids = [command_context(PRINCIPAL, {}, idempotency_key=None).correlation_id for _ in range(1000)]

    assert len(set(ids)) == 1000
    for correlation_id in ids:
        assert correlation_id is not None
        assert str(uuid.UUID(correlation_id)) == correlation_id
        assert uuid.UUID(correlation_id).version == 4


def test_a_correlation_id_sent_is_kept() -> None:
    context = command_context(PRINCIPAL, {"x-correlation-id": "abc-123"}, idempotency_key=None)

    assert context.correlation_id == "abc-123"
