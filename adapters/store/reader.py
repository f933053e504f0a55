"""The one reader of the events table: the global feed, one stream, first events, the head.

Every module outside the event store reads events through here (or through its two siblings:
`replay` for the gateway's watch levels, `audit_reader` for the auditors' stored rows).

Two kinds of answer, named in each docstring:

- *current*: envelopes upcast to their type's current schema (`domain.upcasting.current`),
  with `stored_schema_version` naming the version stored. What projections, the relay, the
  gateway and timelines hand on. Upcasting happens here, once, in `current_envelopes`.
- *as stored*: envelopes exactly as appended (`read_stream`, `read_all`): the store's own port,
  which the repository decodes through the registry, and whose fields re-hash to the chain.

Each function takes a connection or a pool, so a projection can read inside the transaction
that saves its rows and checkpoint.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from adapters.store.personal.reveal import Unread, reveal
from adapters.store.rows import COLUMNS, envelope_from_row
from domain.envelope import EventEnvelope
from domain.upcasting import current

Conn = asyncpg.Connection | asyncpg.Pool


async def current_envelopes(
    conn: Conn, rows: Iterable[Any], *, unread: Unread | None = None
) -> list[EventEnvelope]:
    """Rows as current envelopes: the one place the readers upcast, and open personal values
    (or show them erased: `personal.reveal`), but for the fields `unread` names."""
    return await reveal(conn, [current(envelope_from_row(row)) for row in rows], unread=unread)


async def head(conn: Conn) -> int:
    """The last committed position. Positions are given out in commit order without gaps,
    so every event up to it is already visible: a range read below it misses nothing."""
    return await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")


async def read_range(
    conn: Conn,
    after: int,
    upto: int,
    types: Collection[str] | None = None,
    *,
    limit: int | None = None,
    unread: Unread | None = None,
) -> list[EventEnvelope]:
    """Current. The events in `(after, upto]`, of `types` if given, in position order, at most
    `limit`. Read below a head taken first, a range is complete: no late commit hides in it.
    Sealed values of the fields `unread` names (per event type) are left sealed."""
    # Built to the exact text each caller had, so their plans (and prepared statements) hold.
    sql = f"SELECT {COLUMNS} FROM events WHERE position > $1 AND position <= $2"
    args: list[Any] = [after, upto]
    if types is not None:
        args.append(list(types))
        sql += f" AND type = ANY(${len(args)}::text[])"
    sql += " ORDER BY position"
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT ${len(args)}"
    rows = await conn.fetch(sql, *args)
    return await current_envelopes(conn, rows, unread=unread)


async def read_after(conn: Conn, after: int, limit: int) -> list[EventEnvelope]:
    """Current, personal values left sealed. Every event past `after`, in position order, at
    most `limit`: `read_all` upcast, for readers that publish what they read (the relay), so
    that what NATS keeps holds no personal value in clear and forgets with the store."""
    return [current(envelope_from_row(row)) for row in await _after(conn, after, limit)]


async def read_all(conn: Conn, after: int, limit: int) -> list[EventEnvelope]:
    """As stored. Every event past `after`, in position order, at most `limit`."""
    return [envelope_from_row(row) for row in await _after(conn, after, limit)]


async def _after(conn: Conn, after: int, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
        after,
        limit,
    )


async def read_stream(
    conn: Conn, stream_id: str, *, from_version: int = 1, to_version: int | None = None
) -> list[EventEnvelope]:
    """As stored. One stream's events from `from_version` to `to_version`, in version order."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND version >= $2 "
        "AND ($3::bigint IS NULL OR version <= $3) ORDER BY version",
        stream_id,
        from_version,
        to_version,
    )
    return [envelope_from_row(row) for row in rows]


async def read_streams(conn: Conn, stream_ids: Collection[str]) -> dict[str, list[EventEnvelope]]:
    """As stored. Whole streams in one query, each in version order; one absent is left out."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = ANY($1::text[]) "
        "ORDER BY stream_id, version",
        list(stream_ids),
    )
    streams: dict[str, list[EventEnvelope]] = {}
    for row in rows:
        envelope = envelope_from_row(row)
        streams.setdefault(envelope.stream_id, []).append(envelope)
    return streams


async def read_stream_current(conn: Conn, stream_id: str) -> list[EventEnvelope]:
    """Current. One whole stream in version order (a run's timeline)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 ORDER BY version", stream_id
    )
    return await current_envelopes(conn, rows)


async def read_first_current(conn: Conn, stream_id: str) -> EventEnvelope | None:
    """Current. The event that created a stream (a run's request, its personal values opened)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND version = 1", stream_id
    )
    found = await current_envelopes(conn, rows)
    return found[0] if found else None


async def read_positions(conn: Conn, positions: Collection[int]) -> list[EventEnvelope]:
    """Current. The events at `positions`, in position order (a view's quarantined events)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE position = ANY($1::bigint[]) ORDER BY position",
        list(positions),
    )
    return await current_envelopes(conn, rows)


async def stream_version(conn: Conn, stream_id: str) -> int:
    """The stream's last version; 0 for a stream with no events."""
    version = await conn.fetchval("SELECT max(version) FROM events WHERE stream_id = $1", stream_id)
    return version or 0


async def first_position(conn: Conn, stream_id: str) -> int | None:
    """The position of the event that began the stream; None for a stream never written."""
    return await conn.fetchval(
        "SELECT position FROM events WHERE stream_id = $1 AND version = 1", stream_id
    )


async def first_events(conn: Conn, streams: Collection[str]) -> list[EventEnvelope]:
    """Current. The first event of each of `streams` that has one (it names the owner)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = ANY($1::text[]) AND version = 1",
        list(streams),
    )
    return await current_envelopes(conn, rows)


async def existing_streams(conn: Conn, stream_ids: Collection[str]) -> set[str]:
    """Which of these streams were ever written, in one query."""
    rows = await conn.fetch(
        "SELECT stream_id FROM events WHERE stream_id = ANY($1::text[]) AND version = 1",
        list(stream_ids),
    )
    return {row["stream_id"] for row in rows}


async def stream_versions(conn: Conn, stream_ids: Collection[str]) -> dict[str, int]:
    """Each of these streams' version now, in one query; a stream never written is left out."""
    rows = await conn.fetch(
        "SELECT stream_id, max(version) AS version FROM events"
        " WHERE stream_id = ANY($1::text[]) GROUP BY stream_id",
        list(stream_ids),
    )
    return {row["stream_id"]: row["version"] for row in rows}


async def any_stream_of_type(conn: Conn, stream_type: str) -> bool:
    """Whether any stream of `stream_type` was ever begun."""
    found = await conn.fetchval("SELECT 1 FROM events WHERE stream_type = $1 LIMIT 1", stream_type)
    return found is not None


async def recorded_at(conn: Conn, positions: Sequence[int]) -> dict[int, datetime]:
    """When the events at `positions` were recorded (positions with no event are left out)."""
    rows = await conn.fetch(
        "SELECT position, recorded_at FROM events WHERE position = ANY($1::bigint[])",
        list(positions),
    )
    return {row["position"]: row["recorded_at"] for row in rows}


async def streams_sealed_for(
    conn: Conn, subject_id: str, event_type: str, *, before: int
) -> list[str]:
    """The streams whose events of `event_type`, before position `before`, hold a value
    sealed under `subject_id` (as stored): what a view must blank when that subject is erased.

    A scan of that type's events, once per erasure: erasures are rare, and a view has no
    other way to know whose data it copied (it only ever sees values opened)."""
    rows = await conn.fetch(
        "SELECT DISTINCT stream_id FROM events"
        " WHERE type = $1 AND position < $2 AND strpos(data::text, $3) > 0",
        event_type,
        before,
        f"pii:v1:{subject_id}:",
    )
    return [row["stream_id"] for row in rows]


async def read_stream_types(
    conn: Conn, stream_id: str, types: Collection[str], *, limit: int
) -> list[EventEnvelope]:
    """Current. The newest `limit` events of `types` in one stream, newest first (what one
    pipeline's file reads found)."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND type = ANY($2::text[])"
        " ORDER BY version DESC LIMIT $3",
        stream_id,
        list(types),
        limit,
    )
    return await current_envelopes(conn, rows)


async def read_tails(conn: Conn, wanted: Mapping[str, int]) -> dict[str, list[EventEnvelope]]:
    """As stored. Each stream's events from its `wanted` version on, in version order, in one
    query (the aggregate cache's batched tail reads); a stream with none is left out."""
    # A function of migration 0019: planned once per session, not on every call.
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM read_tails($1::text[], $2::bigint[])",
        list(wanted),
        list(wanted.values()),
    )
    streams: dict[str, list[EventEnvelope]] = {}
    for row in rows:
        envelope = envelope_from_row(row)
        streams.setdefault(envelope.stream_id, []).append(envelope)
    for envelopes in streams.values():
        if len(envelopes) > 1:  # a join promises no order: each stream's is made sure of here
            envelopes.sort(key=lambda envelope: envelope.version)
    return streams
