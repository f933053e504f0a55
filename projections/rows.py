"""Read-model plumbing: a batch's rows loaded as JSON, changed in Python, saved in one statement."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

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
    await save_all(conn, schema, Upsert(table, rows, key, columns))


class Upsert(NamedTuple):
    """Whole rows for `save_all` to upsert into `table` (every column present)."""

    table: str
    rows: Iterable[Row]
    key: tuple[str, ...]
    columns: tuple[str, ...]


async def save_all(conn: asyncpg.Connection, schema: str, *upserts: Upsert) -> None:
    """`save` into several tables in one statement (the others as data-modifying WITH
    queries): a round trip per batch instead of one per table. The tables must differ (no
    query sees another's rows)."""
    filled = [(u, rows) for u in upserts if (rows := list(u.rows))]
    if not filled:
        return
    parts = [
        _upsert(f"{ident(schema)}.{ident(u.table)}", u.key, u.columns, n + 1)
        for n, (u, _) in enumerate(filled)
    ]
    first = [f"u{n} AS ({part})" for n, part in enumerate(parts[:-1])]
    await conn.execute(
        (f"WITH {', '.join(first)} " if first else "") + parts[-1],
        *(_encoder.encode(rows).decode() for _, rows in filled),
    )


def _upsert(target: str, key: tuple[str, ...], columns: tuple[str, ...], param: int) -> str:
    # `json`, not `jsonb`: the rows are read once, so parsing them into jsonb first (sorting
    # every object's keys) was work thrown away. Each value goes to its column's input
    # function as before (nested objects to jsonb_in), so the rows saved are the same.
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {target} SELECT * FROM "
        f"json_populate_recordset(NULL::{target}, ${param}::text::json) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


def stored_streams(events: Sequence[EventEnvelope], first: str) -> set[str]:
    """The streams of `events` whose rows are to be loaded: all but those whose `first` event
    type (the one that makes the row afresh) begins them in the batch. A webhook burst's
    deliveries and runs are all new streams: nothing to load, no statement."""
    begun: set[str] = set()
    stored: set[str] = set()
    for e in events:
        if e.stream_id not in begun and e.stream_id not in stored:
            (begun if e.type == first else stored).add(e.stream_id)
    return stored


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
    rows = {
        r["id"]: r for r in await load(conn, schema, table, "id", stored_streams(events, first))
    }
    for event in events:
        if event.type == first:
            rows[event.stream_id] = {}
        row = rows.get(event.stream_id)
        if row is None:
            raise MissingRow(f"{table}: {event.type} at {event.position} before any {first}")
        fold(row, event)
        row["stream_version"] = event.version
    await save(conn, schema, table, rows.values(), key=("id",), columns=columns)
