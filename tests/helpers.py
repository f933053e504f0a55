"""Small helpers shared by tests."""

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from domain.envelope import EventEnvelope, EventMetadata


def unique_id(prefix: str = "") -> str:
    """`prefix` plus a random hex suffix, so tests sharing one database never collide."""
    return f"{prefix}{uuid4().hex}"


WEBHOOK_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
"""The genuine provider payloads; their provenance is in that folder's MANIFEST.md."""


def an_envelope(
    event_type: str, data: dict[str, Any] | None = None, *, stream_type: str = "run"
) -> EventEnvelope:
    """An event as a reader gives it, of a fresh stream, with `data` (empty by default)."""
    return EventEnvelope(
        event_id=uuid.uuid4(),
        position=1,
        stream_id=str(uuid.uuid4()),
        stream_type=stream_type,
        version=1,
        type=event_type,
        schema_version=1,
        recorded_at=datetime.now(UTC),
        data=data or {},
        metadata=EventMetadata(actor="test"),
        hash="00",
    )
