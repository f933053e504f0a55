"""The logs read model: every run's log chunks in order, per channel, searchable within a run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.run_values import LogStream
from projections.degraded import stream_degraded
from projections.filters import like_pattern
from projections.paging import LIMIT_MAX, InvalidQuery, Where
from projections.rows import ident, occurred_at

RUN_CHANNEL = ""
"""The `step` that names a run's own channel (the chunks appended with no step)."""


class LogChunkRow(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    step: str | None
    """None: the run's own channel."""
    seq: int
    """Its place in its channel, from 1."""
    stream: LogStream
    text: str
    at: datetime
    position: int
    """Global event position: orders the chunks of every channel of a run."""


class LogTruncation(msgspec.Struct, frozen=True, kw_only=True):
    """The run's log hit its size cap: this chunk and every later one were dropped."""

    step: str | None
    seq: int
    bytes_kept: int
    at: datetime


class LogPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[LogChunkRow, ...]
    more: bool
    """More chunks match after the last one (ask again with its seq or position)."""
    truncation: LogTruncation | None = None
    degraded: bool = False
    """Events of the run wait in the view's quarantine (`projections/degraded.py`): chunks
    may be missing from here on."""


DDL = """
CREATE TABLE {s}.logs (
    run_id uuid NOT NULL,
    step text,
    seq integer NOT NULL,
    stream text NOT NULL,
    text text NOT NULL,
    at timestamptz NOT NULL,
    position bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (run_id, step, seq)
);
CREATE INDEX logs_run_position ON {s}.logs (run_id, position);
CREATE TABLE {s}.truncations (
    run_id uuid PRIMARY KEY,
    step text,
    seq integer NOT NULL,
    bytes_kept bigint NOT NULL,
    at timestamptz NOT NULL
);
"""
_COLUMNS = ("run_id", "step", "seq", "stream", "text", "at", "position")


class LogsProjection:
    name = "logs"
    version = 1
    event_types = frozenset({"LogChunkAppended", "LogTruncated"})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        chunks, truncations = [], []
        for event in events:
            d = event.data
            at = datetime.fromisoformat(occurred_at(d))
            run_id = UUID(event.stream_id)
            if event.type == "LogChunkAppended":
                row = (run_id, d["step"], d["seq"], d["stream"], d["text"], at, event.position)
                chunks.append(row)
            elif event.type == "LogTruncated":
                truncations.append((run_id, d["step"], d["seq"], d["bytes_kept"], at))
        if chunks:
            # COPY: the fastest way in, and chunks are only ever added.
            await conn.copy_records_to_table(
                "logs", schema_name=ident(schema), columns=_COLUMNS, records=chunks
            )
        if truncations:
            await conn.executemany(
                f"INSERT INTO {ident(schema)}.truncations VALUES ($1, $2, $3, $4, $5)", truncations
            )


async def run_logs(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    run_id: UUID,
    *,
    step: str | None = None,
    after_seq: int | None = None,
    after_position: int | None = None,
    tail: int | None = None,
    q: str | None = None,
    limit: int = LIMIT_MAX,
) -> LogPage:
    """A run's log chunks in order: one channel by seq (`step`), or all of them by position.

    `after_seq` (with a `step`) or `after_position` resumes after a chunk; `tail` keeps the
    last N that match; `q` keeps the chunks containing it, case-insensitively.
    """
    if not 1 <= limit <= LIMIT_MAX:
        raise InvalidQuery("limit", f"from 1 to {LIMIT_MAX}")
    if tail is not None and not 1 <= tail <= LIMIT_MAX:
        raise InvalidQuery("tail", f"from 1 to {LIMIT_MAX}")
    if after_seq is not None and step is None:
        raise InvalidQuery("after_seq", "a sequence number is per channel: give a step too")
    s, w = ident(schema), Where()
    w.add("l.run_id = {}", run_id)
    if step == RUN_CHANNEL:
        w.add("l.step IS NULL")
    elif step is not None:
        w.add("l.step = {}", step)
    w.when(after_seq, "l.seq > {}")
    w.when(after_position, "l.position > {}")
    w.when(q and like_pattern(q), "l.text ILIKE {} ESCAPE '\\'")
    key = "position" if step is None else "seq"
    # The run is bounded (LOG_RUN_MAX bytes), so a search scans at most that much text.
    if tail is None:
        order, take = "ASC", limit
    else:
        order, take = "DESC", min(tail, limit)
    text = await conn.fetchval(
        f"SELECT coalesce(jsonb_agg(c ORDER BY c.{key} {order}), '[]')::text FROM ("
        f"SELECT l.* FROM {s}.logs l{w.sql()} ORDER BY l.{key} {order} LIMIT {take + 1}) c",
        *w.args,
    )
    rows = list(msgspec.json.decode(text, type=list[LogChunkRow]))
    more = len(rows) > take
    rows = rows[:take]
    if tail is not None:
        rows.reverse()
        more = False
    truncated = await conn.fetchval(
        f"SELECT to_jsonb(t)::text FROM {s}.truncations t WHERE t.run_id = $1", run_id
    )
    truncation = None if truncated is None else msgspec.json.decode(truncated, type=LogTruncation)
    degraded = await conn.fetchval(
        f"SELECT {stream_degraded(LogsProjection.name, '$1::text')}", str(run_id)
    )
    return LogPage(items=tuple(rows), more=more, truncation=truncation, degraded=degraded)
