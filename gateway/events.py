"""Reads the events table for the gateway: streams' owners, the head, and replay ranges."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg
import msgspec

from adapters.relay.subjects import Owner, learn
from domain.envelope import EventEnvelope, EventMetadata

_data = msgspec.json.Decoder(dict[str, Any])
_metadata = msgspec.json.Decoder(EventMetadata)
_COLUMNS = (
    "position, event_id, stream_id, stream_type, version, type, schema_version, "
    "recorded_at, data, metadata, hash"
)


def _envelope(row: asyncpg.Record) -> EventEnvelope:
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


async def head(conn: asyncpg.Connection) -> int:
    """The last committed position: positions are gap-free in commit order."""
    return await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")


async def first_events(conn: asyncpg.Connection, streams: Collection[str]) -> list[EventEnvelope]:
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (stream_id) {_COLUMNS} FROM events "
        "WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, position",
        list(streams),
    )
    return [_envelope(row) for row in rows]


async def owners(conn: asyncpg.Connection, streams: Collection[str]) -> dict[str, Owner]:
    """Each stream's owner as the relay names it in subjects (its first event tells)."""
    found = {s: Owner() for s in streams}
    for first in await first_events(conn, streams):
        found[first.stream_id] = learn(first) or Owner()
    return found


async def batch(
    conn: asyncpg.Connection, after: int, upto: int, limit: int, stream_id: str | None = None
) -> list[EventEnvelope]:
    """Events in `(after, upto]` in position order (of one stream when given), at most `limit`."""
    where = "position > $1 AND position <= $2" + (" AND stream_id = $4" if stream_id else "")
    args: list[Any] = [after, upto, limit] + ([stream_id] if stream_id else [])
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY position LIMIT $3", *args
    )
    return [_envelope(row) for row in rows]
