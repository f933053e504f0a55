"""The event envelope: the one shape every reader sees (store, NATS, WebSocket, export)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class EventMetadata(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str | None = None
    traceparent: str | None = None
    idempotency_key: str | None = None
    personal_actor: bool = False
    """The actor is a person (a committer from a webhook): the store seals it per subject."""


class EventEnvelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    event_id: uuid.UUID
    position: int
    stream_id: str
    stream_type: str
    version: int
    type: str
    schema_version: int
    recorded_at: datetime
    data: dict[str, Any]
    metadata: EventMetadata
    hash: str
    """Hex sha256 of the previous event's hash and this event's canonical bytes."""
    stored_schema_version: int | None = None
    """Set only when `data` was upcast on read: the older version it is stored (and hashed) as."""
