"""Read-model plumbing: a batch's rows loaded as JSON, changed in Python, saved in one statement."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.registry import OCCURRED_AT

Row = dict[str, Any]

_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_rows = msgspec.json.Decoder(list[dict[str, Any]])
_encoder = msgspec.json.Encoder()


def ident(name: str) -> str:
    """`name` if it is a plain lower-case SQL identifier: schema names are spliced into SQL."""
    if not _IDENT.fullmatch(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def occurred_at(data: dict[str, Any]) -> str:
    return data[OCCURRED_AT]


def ms_between(start: str | None, end: str | None) -> int | None:
    """Whole milliseconds from `start` to `end` (ISO texts), at least 0; None if either is None."""
    if start is None or end is None:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return max(0, delta // timedelta(milliseconds=1))


async def load(
    conn: asyncpg.Connection, schema: str, table: str, column: str, keys: Collection[str]
) -> list[Row]:
    """Every row of `table` whose uuid `column` is one of `keys`, as JSON-ready dicts."""
    if not keys:
        return []
    # One index lookup per key: a table filling up during a rebuild has no statistics yet,
    # and `column = ANY(...)` then looks to the planner like a job for a sequential scan.
    text = await conn.fetchval(
        f"SELECT coalesce(jsonb_agg(t), '[]')::text FROM unnest($1::uuid[]) AS k(key), "
        f"LATERAL (SELECT * FROM {ident(schema)}.{ident(table)} r "
        f"WHERE r.{ident(column)} = k.key OFFSET 0) AS t",
        list(keys),
    )
    return _rows.decode(text)


async def save(
    conn: asyncpg.Connection,
    schema: str,
    table: str,
    rows: Iterable[Row],
    *,
    key: tuple[str, ...],
    columns: tuple[str, ...],
) -> None:
    """Upsert whole rows (every column present) in one statement, typed by the table itself."""
    rows = list(rows)
    if not rows:
        return
    target = f"{ident(schema)}.{ident(table)}"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    await conn.execute(
        f"INSERT INTO {target} SELECT * FROM "
        f"jsonb_populate_recordset(NULL::{target}, $1::text::jsonb) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}",
        _encoder.encode(rows).decode(),
    )


class MissingRow(LookupError):
    """An event for a stream whose first event the view never saw."""


async def fold_row_per_stream(
    conn: asyncpg.Connection,
    schema: str,
    table: str,
    events: Sequence[EventEnvelope],
    fold: Callable[[Row, EventEnvelope], None],
    *,
    first: str,
    columns: tuple[str, ...],
) -> None:
    """For views holding one row per stream (keyed `id`): load the rows the batch touches, let
    `fold` update each event's row in place (an empty one for the stream's `first` event type),
    and save them in one statement.
    """
    # A stream whose first event is in the batch starts from an empty row: nothing to load
    # (a webhook burst's deliveries are all new streams).
    begun: set[str] = set()
    touched: set[str] = set()
    for e in events:
        if e.stream_id not in begun and e.stream_id not in touched:
            (begun if e.type == first else touched).add(e.stream_id)
    rows = {r["id"]: r for r in await load(conn, schema, table, "id", touched)}
    for event in events:
        if event.type == first:
            rows[event.stream_id] = {}
        row = rows.get(event.stream_id)
        if row is None:
            raise MissingRow(f"{table}: {event.type} at {event.position} before any {first}")
        fold(row, event)
        row["stream_version"] = event.version
    await save(conn, schema, table, rows.values(), key=("id",), columns=columns)
