"""The envelope auditors see: stored bytes as kept, data upcast to today's schema, and its cause.

`data` is passed through as the exact JSON text stored unless its schema version is older than
the registry's, in which case it is upcast; `stored_schema_version` tells which it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from adapters.store import audit_reader
from adapters.store.personal.reveal import reveal
from domain.envelope import EventMetadata
from domain.registry import Registry, RegistryError, default_registry

DELIVERY_EVENT = "WebhookReceived"

_metadata = msgspec.json.Decoder(EventMetadata)
_data = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder(order="sorted")


class DeliveryRef(msgspec.Struct, frozen=True, kw_only=True):
    """The recorded webhook delivery whose `WebhookReceived` event caused an event."""

    stream_id: str
    """The delivery's stream (GET /api/v1/webhook-deliveries/{stream_id})."""
    event_id: uuid.UUID
    """Its `WebhookReceived` event: the causation id."""
    source_id: str | None
    delivery_id: str | None
    """The provider's own delivery id."""
    event: str | None
    """The provider's event kind (`push`, `Pipeline Hook`, ...)."""


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The event envelope, as stored, with `data` at the current schema version."""

    event_id: uuid.UUID
    position: int
    stream_id: str
    stream_type: str
    version: int
    type: str
    schema_version: int
    """The schema version `data` is given in: the current one for every known event type."""
    stored_schema_version: int
    """The schema version the event was stored with (older ones are upcast on read)."""
    recorded_at: datetime
    data: msgspec.Raw
    """The event's fields (a JSON object), with `occurred_at`: its domain timestamp."""
    metadata: EventMetadata
    hash: str
    """Hex sha256 of the previous event's hash and this event's canonical bytes."""
    caused_by_delivery: DeliveryRef | None = None
    """Set when `metadata.causation_id` names a recorded webhook delivery's event."""


def upcast_data(
    registry: Registry, event_type: str, stored_version: int, text: str
) -> tuple[int, msgspec.Raw]:
    """`(schema version, data)` at the registry's current version; as stored if it cannot be.

    An event type the registry does not know (or a version newer than it knows) is shown as
    stored: an audit read must never hide an event because today's code cannot decode it.
    """
    try:
        current = registry.event_type(event_type).schema_version
    except RegistryError:
        return stored_version, msgspec.Raw(text)
    if stored_version == current:
        return current, msgspec.Raw(text)
    try:
        upcast = registry.upcast(event_type, stored_version, _data.decode(text))
    except RegistryError:
        return stored_version, msgspec.Raw(text)
    return current, msgspec.Raw(_encoder.encode(upcast))


def causation_uuid(metadata: EventMetadata) -> uuid.UUID | None:
    """The causation id as an event id, if it can be one (clients may send any text)."""
    if not metadata.causation_id:
        return None
    try:
        return uuid.UUID(metadata.causation_id)
    except ValueError:
        return None


def audit_event(
    row: Mapping[str, Any],
    deliveries: Mapping[uuid.UUID, DeliveryRef] | None = None,
    registry: Registry | None = None,
) -> AuditEvent:
    """The AuditEvent of a row of `audit_reader.AUDIT_COLUMNS` (as stored)."""
    return _audit_event(row, _metadata.decode(row["metadata"]), deliveries, registry)


def _audit_event(
    row: Mapping[str, Any],
    metadata: EventMetadata,
    deliveries: Mapping[uuid.UUID, DeliveryRef] | None,
    registry: Registry | None,
) -> AuditEvent:
    registry = registry or default_registry()
    version, data = upcast_data(registry, row["type"], row["schema_version"], row["data"])
    cause = causation_uuid(metadata)
    return AuditEvent(
        event_id=row["event_id"],
        position=row["position"],
        stream_id=row["stream_id"],
        stream_type=row["stream_type"],
        version=row["version"],
        type=row["type"],
        schema_version=version,
        stored_schema_version=row["schema_version"],
        recorded_at=row["recorded_at"],
        data=data,
        metadata=metadata,
        hash=row["hash"].hex(),
        caused_by_delivery=None if cause is None or deliveries is None else deliveries.get(cause),
    )


async def deliveries_by_event(
    conn: asyncpg.Connection | asyncpg.Pool, event_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, DeliveryRef]:
    """The webhook deliveries among `event_ids` (their `WebhookReceived` events), by event id."""
    wanted = list(set(event_ids))
    if not wanted:
        return {}
    rows = await audit_reader.deliveries(conn, wanted, DELIVERY_EVENT)
    return {
        row["event_id"]: DeliveryRef(
            stream_id=row["stream_id"],
            event_id=row["event_id"],
            source_id=row["source_id"],
            delivery_id=row["delivery_id"],
            event=row["event"],
        )
        for row in rows
    }


class DeliveryCache:
    """Resolves causation ids to deliveries batch by batch, remembering the recent answers."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._known: dict[uuid.UUID, DeliveryRef | None] = {}
        self._capacity = capacity

    async def events(
        self, conn: asyncpg.Connection | asyncpg.Pool, rows: Sequence[Mapping[str, Any]]
    ) -> list[AuditEvent]:
        """The rows as AuditEvents, each with the delivery that caused it, if any."""
        # An append's events share their metadata: each distinct text decoded once.
        decoded: dict[str, EventMetadata] = {}
        metadata = [
            decoded.get(text) or decoded.setdefault(text, _metadata.decode(text))
            for text in (row["metadata"] for row in rows)
        ]
        causes = {c for m in metadata if (c := causation_uuid(m)) is not None}
        unknown = causes - self._known.keys()
        if unknown:
            if len(self._known) + len(unknown) > self._capacity:
                self._known.clear()  # a long export must stay in constant memory
                unknown = causes
            found = await deliveries_by_event(conn, unknown)
            self._known.update({c: found.get(c) for c in unknown})
        found_now = {c: d for c in causes if (d := self._known.get(c)) is not None}
        # Auditors see personal values as every reader does: opened, or erased.
        return await reveal(
            conn,
            [
                _audit_event(row, meta, found_now, None)
                for row, meta in zip(rows, metadata, strict=True)
            ],
        )
