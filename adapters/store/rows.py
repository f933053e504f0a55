"""The events table's row as an envelope: the columns an envelope is read from, and the mapping.

Kept apart from the writing side (encoding, errors), for the readers (`reader`, `replay`,
`audit_reader`) and for tests that select rows themselves.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.envelope import EventEnvelope, EventMetadata

COLUMNS = (
    "position, event_id, stream_id, stream_type, version, type, schema_version, "
    "recorded_at, data, metadata, hash"
)
"""What `envelope_from_row` reads, for `SELECT {COLUMNS} FROM events ...`."""

_data = msgspec.json.Decoder(dict[str, Any])
_metadata = msgspec.json.Decoder(EventMetadata)


def envelope_from_row(row: Any) -> EventEnvelope:
    """Builds the envelope, as stored, from an `events` row (asyncpg Record or mapping)."""
    return EventEnvelope(
        event_id=row["event_id"],
        position=row["position"],
        stream_id=row["stream_id"],
        stream_type=row["stream_type"],
        version=row["version"],
        type=row["type"],
        schema_version=row["schema_version"],
        recorded_at=row["recorded_at"],
        data=_data.decode(row["data"]),
        metadata=_metadata.decode(row["metadata"]),
        hash=row["hash"].hex(),
    )
