"""What operators see of the views' quarantines, and how their decisions came out.

A decision (skip the poison event, retry the stream) is a command appending an event
(`commands/quarantine.py`); the projector acts on it in the feed. These queries find the
poison an operator names, and report what the view made of a decision once it got there.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

Action = Literal["retry", "skip"]


class QuarantinedEvent(msgspec.Struct, frozen=True, kw_only=True):
    projection: str
    position: int
    event_id: UUID
    stream_id: str
    type: str
    status: str
    """poison (its handler raised) or parked (waits behind its stream's poison)."""
    error: str | None
    error_class: str | None
    first_seen: datetime
    last_tried: datetime
    attempts: int


class QuarantineSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One view's quarantine at a glance."""

    events: int
    """Quarantined events, poison and parked."""
    streams: int
    """Streams with a poison event: their rows are degraded."""
    oldest_position: int
    oldest_seen: datetime


class DecisionOutcome(msgspec.Struct, frozen=True, kw_only=True):
    outcome: Literal["applied", "quarantined", "pending"]
    """applied: the stream is whole again; quarantined: an event failed again (see error);
    pending: the view has not reached the decision yet."""
    remaining: int
    """Events of the stream still quarantined."""
    error: str | None


async def summaries(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, QuarantineSummary]:
    """Per view with anything quarantined."""
    rows = await conn.fetch(
        "SELECT projection, count(*) AS events, "
        "count(*) FILTER (WHERE status = 'poison') AS streams, "
        "min(position) AS oldest_position, min(first_seen) AS oldest_seen "
        "FROM projection_quarantine GROUP BY projection"
    )
    return {
        row["projection"]: QuarantineSummary(
            events=row["events"],
            streams=row["streams"],
            oldest_position=row["oldest_position"],
            oldest_seen=row["oldest_seen"],
        )
        for row in rows
    }


async def list_quarantined(
    conn: asyncpg.Connection | asyncpg.Pool,
    projection: str | None = None,
    stream_id: str | None = None,
) -> list[QuarantinedEvent]:
    """Every quarantined event, of one view and one stream if given, by view then position."""
    rows = await conn.fetch(
        "SELECT * FROM projection_quarantine WHERE ($1::text IS NULL OR projection = $1) "
        "AND ($2::text IS NULL OR stream_id = $2) ORDER BY projection, position",
        projection,
        stream_id,
    )
    return [QuarantinedEvent(**dict(row)) for row in rows]


async def poison_at(
    conn: asyncpg.Connection | asyncpg.Pool, projection: str, position: int
) -> QuarantinedEvent | None:
    """The event at `position` if it is the poison of a stream quarantined in `projection`."""
    row = await conn.fetchrow(
        "SELECT * FROM projection_quarantine WHERE projection = $1 AND position = $2 "
        "AND status = 'poison'",
        projection,
        position,
    )
    return None if row is None else QuarantinedEvent(**dict(row))


async def served(conn: asyncpg.Connection | asyncpg.Pool, projection: str) -> bool:
    """Whether a view of that name has a checkpoint (it is, or was, served)."""
    found = await conn.fetchval("SELECT 1 FROM projection_checkpoints WHERE name = $1", projection)
    return found is not None


async def outcome(
    conn: asyncpg.Connection | asyncpg.Pool,
    projection: str,
    stream_id: str,
    *,
    decided_at: int,
    within_s: float,
) -> DecisionOutcome:
    """How a decision at position `decided_at` came out, once the view has reached it (or
    `pending` after `within_s`): the stream whole again, or what is still quarantined."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        reached = await conn.fetchval(
            "SELECT position >= $2 FROM projection_checkpoints WHERE name = $1",
            projection,
            decided_at,
        )
        if reached or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.1)
    held = await list_quarantined(conn, projection, stream_id)
    poison = next((e for e in held if e.status == "poison"), None)
    return DecisionOutcome(
        outcome="pending" if not reached else ("quarantined" if held else "applied"),
        remaining=len(held),
        error=None if poison is None else f"{poison.error_class}: {poison.error}",
    )
