"""The deliverer's log of attempts (`outbound_attempts`): written per request, read by the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

Outcome = Literal["delivered", "retrying", "parked", "blocked"]
ERROR_MAX = 500


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    subscription_id: UUID
    message_id: str
    """The `webhook-id` sent: the event's id, the same on every retry and re-send."""
    event_position: int
    event_type: str
    attempt: int
    attempted_at: datetime
    status_code: int | None
    """The receiver's HTTP status; None when no answer came."""
    error: str
    duration_ms: int
    outcome: Outcome


INSERT = (
    "INSERT INTO outbound_attempts (subscription_id, message_id, event_position, event_type,"
    " attempt, attempted_at, status_code, error, duration_ms, outcome)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
AttemptRow = tuple[UUID, str, int, str, int, datetime, int | None, str, int, str]
"""INSERT's arguments, in its order."""


def row(
    *,
    subscription_id: UUID,
    message_id: str,
    event_position: int,
    event_type: str,
    attempt: int,
    attempted_at: datetime,
    status_code: int | None,
    error: str,
    duration_ms: int,
    outcome: Outcome,
) -> AttemptRow:
    return (
        subscription_id,
        message_id,
        event_position,
        event_type,
        attempt,
        attempted_at,
        status_code,
        error.replace("\x00", "")[:ERROR_MAX],
        min(max(duration_ms, 0), 2**31 - 1),
        outcome,
    )


async def list_attempts(
    conn: asyncpg.Pool | asyncpg.Connection,
    subscription_id: UUID,
    *,
    after_id: int = 0,
    limit: int = 100,
    message_id: str | None = None,
    outcome: str | None = None,
) -> list[Attempt]:
    """Oldest first, after the attempt `after_id` (keyset paging)."""
    rows = await conn.fetch(
        "SELECT id, subscription_id, message_id, event_position, event_type, attempt,"
        " attempted_at, status_code, error, duration_ms, outcome FROM outbound_attempts"
        " WHERE subscription_id = $1 AND id > $2"
        " AND ($3::text IS NULL OR message_id = $3) AND ($4::text IS NULL OR outcome = $4)"
        " ORDER BY id LIMIT $5",
        subscription_id,
        after_id,
        message_id,
        outcome,
        limit,
    )
    return [Attempt(**dict(row)) for row in rows]


async def last_attempt_of(
    conn: asyncpg.Pool | asyncpg.Connection, subscription_id: UUID, message_id: str
) -> Attempt | None:
    found = await list_attempts(conn, subscription_id, message_id=message_id, limit=1)
    return found[0] if found else None
