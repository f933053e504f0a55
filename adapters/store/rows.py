"""The events table as every reader sees it: the columns of an envelope, a row as an envelope,
and the head position.

Kept apart from the writing side (encoding, errors): the gateway and the projections read the
table too, and may not reach the command side that the append errors belong to.
"""

from __future__ import annotations

from typing import Any

import asyncpg
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


async def head(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    """The last committed position. Positions are given out in commit order without gaps,
    so every event up to it is already visible: a range read below it misses nothing."""
    return await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
