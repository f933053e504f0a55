"""Reads for auditors: rows exactly as stored (data and metadata as the JSON text kept, the
hash), never upcast, so hashes recompute and the audit envelope can show the stored bytes.

Rows are asyncpg records of `AUDIT_COLUMNS` (or, for chain checks, of `rows.COLUMNS` in the
order `adapters.audit.chains.Row` reads them). Keyset reads stop at a version or a position
given by the caller, taken when it starts: positions are handed out in commit order without
gaps, so everything up to it is visible, and a read in batches sees the history as it stood.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from adapters.store.reader import Conn
from adapters.store.rows import COLUMNS

AUDIT_COLUMNS = (
    "position, event_id, stream_id, stream_type, version, type, schema_version, "
    "recorded_at, data::text AS data, metadata::text AS metadata, hash"
)
"""What every audit read selects: `data` and `metadata` as the exact text stored."""

Rows = list[asyncpg.Record]

# Matches the expression of the partial index in 0005_audit_reads.sql. Materialized first, then
# ordered: with `ORDER BY position LIMIT` in one query the planner, which has no statistics on
# the expression, may walk the whole primary key in order and filter each row instead.
CAUSED_BY = (
    "WITH caused AS MATERIALIZED ("
    f"SELECT {AUDIT_COLUMNS} FROM events WHERE metadata->>'causation_id' = ANY($1::text[])) "
    "SELECT * FROM caused ORDER BY position LIMIT $2"
)


async def stream_info(conn: Conn, stream_id: str) -> asyncpg.Record | None:
    """`stream_type`, the first event's `project_id` and the `head` version; None: no stream."""
    return await conn.fetchrow(
        "SELECT stream_type, data->>'project_id' AS project_id, "
        "(SELECT max(version) FROM events WHERE stream_id = $1) AS head "
        "FROM events WHERE stream_id = $1 AND version = 1",
        stream_id,
    )


async def stream_page(
    conn: Conn, stream_id: str, after_version: int, upto_version: int, limit: int
) -> Rows:
    """The stream's events in `(after_version, upto_version]`, in version order."""
    return await conn.fetch(
        f"SELECT {AUDIT_COLUMNS} FROM events WHERE stream_id = $1 AND version > $2 "
        "AND version <= $3 ORDER BY version LIMIT $4",
        stream_id,
        after_version,
        upto_version,
        limit,
    )


async def feed_page(
    conn: Conn,
    after: int,
    upto: int,
    limit: int,
    *,
    stream_types: Sequence[str] = (),
    types: Sequence[str] = (),
    recorded_after: datetime | None = None,
    recorded_before: datetime | None = None,
) -> Rows:
    """The feed's events in `(after, upto]` that match, in position order (`recorded_after`
    inclusive, `recorded_before` exclusive; empty filters filter nothing)."""
    conditions = ["position > $1", "position <= $2"]
    args: list[Any] = [after, upto]

    def add(condition: str, value: Any) -> None:
        args.append(value)
        conditions.append(condition.format(f"${len(args)}"))

    # One value as plain `=`: the planner likes it best.
    for column, values in (("stream_type", stream_types), ("type", types)):
        if len(values) == 1:
            add(f"{column} = {{}}", values[0])
        elif values:
            add(f"{column} = ANY({{}}::text[])", list(values))
    if recorded_after is not None:
        add("recorded_at >= {}", recorded_after)
    if recorded_before is not None:
        add("recorded_at < {}", recorded_before)
    sql = (
        f"SELECT {AUDIT_COLUMNS} FROM events WHERE {' AND '.join(conditions)} "
        f"ORDER BY position LIMIT {int(limit)}"
    )
    return await conn.fetch(sql, *args)


async def by_id(conn: Conn, event_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {AUDIT_COLUMNS} FROM events WHERE event_id = $1", event_id)


async def same_append(conn: Conn, row: asyncpg.Record) -> Rows:
    """The other events appended with `row` (same stream, `recorded_at` and metadata)."""
    return await conn.fetch(
        f"SELECT {AUDIT_COLUMNS} FROM events WHERE stream_id = $1 AND recorded_at = $2 "
        "AND metadata::text = $3 AND event_id <> $4 ORDER BY version",
        row["stream_id"],
        row["recorded_at"],
        row["metadata"],
        row["event_id"],
    )


async def caused_by(conn: Conn, causes: Sequence[str], limit: int) -> Rows:
    """Events whose `causation_id` is one of `causes`, in position order, at most `limit`."""
    return await conn.fetch(CAUSED_BY, list(causes), limit)


async def deliveries(conn: Conn, event_ids: Collection[uuid.UUID], event_type: str) -> Rows:
    """`event_id`, `stream_id` and the delivery's `source_id`, `delivery_id` and `event` of
    those of `event_ids` that are `event_type` events."""
    # Only three fields of the data: a delivery's event also carries its raw payload.
    return await conn.fetch(
        "SELECT event_id, stream_id, data->>'source_id' AS source_id, "
        "data->>'delivery_id' AS delivery_id, data->>'event' AS event "
        "FROM events WHERE event_id = ANY($1::uuid[]) AND type = $2",
        list(event_ids),
        event_type,
    )


async def version_bounds(conn: Conn, stream_id: str, at: datetime) -> asyncpg.Record:
    """`began` (first recorded_at), `head` (last version, None: no stream) and `first_after`
    (the first version recorded after `at`, None if none)."""
    return await conn.fetchrow(
        "SELECT (SELECT min(recorded_at) FROM events WHERE stream_id = $1) AS began, "
        "(SELECT max(version) FROM events WHERE stream_id = $1) AS head, "
        "(SELECT min(version) FROM events WHERE stream_id = $1 AND recorded_at > $2) "
        "AS first_after",
        stream_id,
        at,
    )


async def event_at(conn: Conn, stream_id: str, version: int) -> asyncpg.Record | None:
    """`position`, `recorded_at`, `type` of one event, and the stream's `head` version."""
    return await conn.fetchrow(
        "SELECT position, recorded_at, type, "
        "(SELECT max(version) FROM events WHERE stream_id = $1) AS head "
        "FROM events WHERE stream_id = $1 AND version = $2",
        stream_id,
        version,
    )


async def chain_batches(
    conn: asyncpg.Connection, stream_id: str | None, batch: int
) -> AsyncIterator[Rows]:
    """Every row (of one stream, or all) in position order, `batch` rows at a time, from one
    read-only snapshot. A server-side cursor in the table's own order keeps the read sequential
    and the memory flat; rows are `rows.COLUMNS`, in the order of `chains.Row`."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if stream_id is None:
            cursor = await conn.cursor(f"SELECT {COLUMNS} FROM events ORDER BY position")
        else:
            cursor = await conn.cursor(
                f"SELECT {COLUMNS} FROM events WHERE stream_id = $1 ORDER BY position", stream_id
            )
        while rows := await cursor.fetch(batch):
            yield rows
