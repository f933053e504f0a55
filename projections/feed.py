"""Reads the global event feed in position order, filtered to the types a projection reads."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg
import msgspec

from domain.envelope import EventEnvelope, EventMetadata

# Decoded here rather than with adapters.event_store.encoding: that package reaches
# commands (its errors), which projections may not import (.importlinter).
_data = msgspec.json.Decoder(dict[str, Any])
_metadata = msgspec.json.Decoder(EventMetadata)
_COLUMNS = (
    "position, event_id, stream_id, stream_type, version, type, schema_version, "
    "recorded_at, data, metadata, hash"
)


async def head(conn: asyncpg.Connection) -> int:
    """The last committed position. Positions are given out in commit order without gaps,
    so every event up to it is already visible: a range read below it misses nothing."""
    return await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")


async def read_range(
    conn: asyncpg.Connection, after: int, upto: int, types: Collection[str]
) -> list[EventEnvelope]:
    """The events in `(after, upto]` whose type is in `types`, in position order."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM events WHERE position > $1 AND position <= $2 "
        "AND type = ANY($3::text[]) ORDER BY position",
        after,
        upto,
        list(types),
    )
    return [
        EventEnvelope(
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
        for row in rows
    ]
