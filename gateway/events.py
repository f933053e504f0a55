"""Reads the events table for the gateway: the head, streams' owners, and filtered replays."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

from adapters.store.rows import COLUMNS, envelope_from_row
from adapters.store.rows import head as head  # the head, for the feed and tests
from adapters.streaming.relay.subjects import Owner, learn
from domain.envelope import EventEnvelope
from domain.upcasting import current

PROJECT_IN_DATA = (
    "PipelineCreated",
    "RunRequested",
    "ApiKeyIssued",
    "WebhookSourceRegistered",
    "WebhookReceived",
)
"""First events whose `project_id` names their stream's project (as `learn` reads them)."""

# A stream belongs where its first event says (the rule of `learn`, which names the relay's
# subjects); the partial indexes of 0008_gateway_replay.sql find those first events by owner.
_types = ", ".join(f"'{t}'" for t in PROJECT_IN_DATA)
_STREAMS_OF = {
    "pipeline": (
        "SELECT stream_id FROM events WHERE stream_id = $4 AND version = 1 "
        "AND type = 'PipelineCreated' UNION ALL SELECT stream_id FROM events "
        "WHERE version = 1 AND data->>'pipeline_id' = $4 AND type = 'RunRequested'"
    ),
    "project": (
        "SELECT stream_id FROM events WHERE stream_id = $4 AND version = 1 "
        "AND type = 'ProjectCreated' UNION ALL SELECT stream_id FROM events "
        f"WHERE version = 1 AND data->>'project_id' = $4 AND type IN ({_types})"
    ),
}


def _envelope(row: asyncpg.Record) -> EventEnvelope:
    """The row as the relay publishes it: upcast to the current schema."""
    return current(envelope_from_row(row))


async def first_events(conn: asyncpg.Connection, streams: Collection[str]) -> list[EventEnvelope]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE stream_id = ANY($1::text[]) AND version = 1",
        list(streams),
    )
    return [_envelope(row) for row in rows]


async def owners(conn: asyncpg.Connection, streams: Collection[str]) -> dict[str, Owner]:
    """Each stream's owner as the relay names it in subjects (its first event tells)."""
    found = {s: Owner() for s in streams}
    for first in await first_events(conn, streams):
        found[first.stream_id] = learn(first) or Owner()
    return found


async def batch(conn: asyncpg.Connection, after: int, upto: int, limit: int) -> list[EventEnvelope]:
    """Every event in `(after, upto]`, in position order, at most `limit`."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE position > $1 AND position <= $2 "
        "ORDER BY position LIMIT $3",
        after,
        upto,
        limit,
    )
    return [_envelope(row) for row in rows]


def replay_sql(level: str) -> str:
    """The query of `replay`: $1 after, $2 up to, $3 limit, $4 the run, pipeline or project."""
    where = "position > $1 AND position <= $2"
    if level == "run":
        where += " AND stream_id = $4"
    elif level in _STREAMS_OF:
        where += f" AND stream_id IN ({_STREAMS_OF[level]})"
    return f"SELECT {COLUMNS} FROM events WHERE {where} ORDER BY position LIMIT $3"


async def replay(
    conn: asyncpg.Connection, level: str, target: str, after: int, upto: int, limit: int
) -> list[EventEnvelope]:
    """The events of one watch level (see `Watch.level`) in `(after, upto]`, filtered in SQL."""
    args: list[Any] = [after, upto, limit] + ([target] if level != "all" else [])
    return [_envelope(row) for row in await conn.fetch(replay_sql(level), *args)]
