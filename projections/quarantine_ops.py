"""What operators see of the views' quarantines, and what they do about one stream of it.

`retry` applies the stream's quarantined events again, in order (after a fix is deployed);
`skip` drops its poison event, then applies the parked ones. Each runs in one transaction that
holds the view's checkpoint row, so the live owner's next batch waits for it and then sees the
stream released; each appends a row to `projection_quarantine_actions` saying who decided
what, why, and what came of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from adapters.store.reader import read_positions
from projections import checkpoints
from projections.projection import Projection, live_schema
from projections.quarantine import error_class, error_text, try_apply

Action = Literal["retry", "skip"]
# Not the handler's fault: the operator tries again.
_PASSTHROUGH = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


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


class ActionResult(msgspec.Struct, frozen=True, kw_only=True):
    projection: str
    stream_id: str
    action: Action
    position: int
    """The poison event the decision was about."""
    applied: int
    """Events applied to the view (the skipped one is not counted)."""
    outcome: Literal["applied", "quarantined"]
    """applied: the stream is whole again; quarantined: an event failed again (see error)."""
    error: str | None
    remaining: int
    """Events of the stream still quarantined."""


class NothingQuarantined(LookupError):
    """The stream has no event quarantined in that view."""


class QuarantineBusy(RuntimeError):
    """The view is being rebuilt, or was built by another version of the code."""


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


async def retry(
    conn: asyncpg.Connection, projection: Projection, stream_id: str, *, actor: str, reason: str
) -> ActionResult:
    """Apply the stream's quarantined events again, in order, to the live view. The first
    that fails again stays quarantined with its new error, and the ones after it stay parked."""
    return await _act(conn, projection, stream_id, "retry", actor, reason)


async def skip(
    conn: asyncpg.Connection, projection: Projection, stream_id: str, *, actor: str, reason: str
) -> ActionResult:
    """Drop the stream's poison event from the view for good, then apply the parked ones in
    order (as `retry` does). A rebuild of this projection version skips it too."""
    return await _act(conn, projection, stream_id, "skip", actor, reason)


async def _act(
    conn: asyncpg.Connection,
    projection: Projection,
    stream_id: str,
    action: Action,
    actor: str,
    reason: str,
) -> ActionResult:
    if not actor.strip() or not reason.strip():
        raise ValueError("an operator's action needs who (actor) and why (reason)")
    name = projection.name
    async with conn.transaction():
        # Holds the owner's next batch at its checkpoint update until this commits.
        built = await conn.fetchval(
            "SELECT version FROM projection_checkpoints WHERE name = $1 FOR UPDATE", name
        )
        if built is not None and built != projection.version:
            raise QuarantineBusy(
                f"{name} is built by version {built}; this process has {projection.version}"
            )
        if await checkpoints.rebuild_running(conn, name):
            # Its swap would bring back its own quarantine, undoing this.
            raise QuarantineBusy(f"{name} is being rebuilt; act once the rebuild is done")
        rows = await conn.fetch(
            "SELECT position, event_id FROM projection_quarantine "
            "WHERE projection = $1 AND stream_id = $2 ORDER BY position FOR UPDATE",
            name,
            stream_id,
        )
        if not rows:
            raise NothingQuarantined(f"no event of stream {stream_id} is quarantined in {name}")
        poison = rows[0]
        positions = [row["position"] for row in rows]
        if action == "skip":
            positions = positions[1:]
            await _release(conn, name, [poison["position"]])
        applied, error = await _apply_in_order(conn, projection, positions)
        await _release(conn, name, applied)
        remaining = len(positions) - len(applied)
        result = ActionResult(
            projection=name,
            stream_id=stream_id,
            action=action,
            position=poison["position"],
            applied=len(applied),
            outcome="quarantined" if remaining else "applied",
            error=error,
            remaining=remaining,
        )
        await _record(conn, projection, result, poison["event_id"], actor, reason)
        return result


async def _apply_in_order(
    conn: asyncpg.Connection, projection: Projection, positions: list[int]
) -> tuple[list[int], str | None]:
    """Apply the events at `positions` one by one until one fails; which applied, and why not."""
    applied: list[int] = []
    for event in await read_positions(conn, positions):
        failure = await try_apply(
            conn, projection, live_schema(projection.name), [event], _PASSTHROUGH
        )
        if failure is not None:
            error = error_text(failure)
            await conn.execute(
                "UPDATE projection_quarantine SET status = 'poison', error = $3, "
                "error_class = $4, last_tried = now(), attempts = attempts + 1 "
                "WHERE projection = $1 AND position = $2",
                projection.name,
                event.position,
                str(failure),
                error_class(failure),
            )
            return applied, error
        applied.append(event.position)
    return applied, None


async def _release(conn: asyncpg.Connection, name: str, positions: list[int]) -> None:
    await conn.execute(
        "DELETE FROM projection_quarantine WHERE projection = $1 AND position = ANY($2::bigint[])",
        name,
        positions,
    )


async def _record(
    conn: asyncpg.Connection,
    projection: Projection,
    result: ActionResult,
    event_id: UUID,
    actor: str,
    reason: str,
) -> None:
    await conn.execute(
        "INSERT INTO projection_quarantine_actions (projection, version, stream_id, action, "
        "position, event_id, actor, reason, outcome, error) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        projection.name,
        projection.version,
        result.stream_id,
        result.action,
        result.position,
        event_id,
        actor,
        reason,
        result.outcome,
        result.error,
    )
