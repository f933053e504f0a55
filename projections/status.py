"""How far behind the event feed each projection is, and whether it is served at all."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec


class ProjectionStatus(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    position: int
    """The last event applied."""
    head: int
    """The last event committed."""
    lag_events: int
    lag_seconds: float
    """Recorded time of the head event minus that of the last event applied; 0 when caught up."""
    state: str
    """running, failed (a poison event: see `error`), rebuilding, or stopped."""
    error: str | None
    error_position: int | None
    owner: str | None
    """host:pid of the process serving it."""
    updated_at: datetime


_QUERY = """
SELECT c.name, c.version, c.position, c.state, c.error, c.error_position, c.owner,
       c.updated_at, coalesce(h.position, 0) AS head,
       extract(epoch FROM h.recorded_at - a.recorded_at)::float8 AS behind
  FROM projection_checkpoints c
  LEFT JOIN LATERAL (SELECT position, recorded_at FROM events
                      ORDER BY position DESC LIMIT 1) h ON true
  -- before its first event, a projection is as far behind as the first event is old
  LEFT JOIN events a ON a.position = greatest(c.position, 1)
 ORDER BY c.name
"""


async def projection_status(conn: asyncpg.Connection | asyncpg.Pool) -> list[ProjectionStatus]:
    rows = await conn.fetch(_QUERY)
    return [
        ProjectionStatus(
            name=row["name"],
            version=row["version"],
            position=row["position"],
            head=row["head"],
            lag_events=max(row["head"] - row["position"], 0),
            lag_seconds=max(row["behind"] or 0.0, 0.0) if row["head"] > row["position"] else 0.0,
            state=row["state"],
            error=row["error"],
            error_position=row["error_position"],
            owner=row["owner"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ]


def status_table(statuses: list[ProjectionStatus]) -> str:
    """A fixed-width table for the terminal, one projection a line."""
    header = ("NAME", "VERSION", "POSITION", "HEAD", "LAG", "LAG_S", "STATE", "OWNER", "ERROR")
    lines = [header]
    for s in statuses:
        error = f"at {s.error_position}: {s.error}" if s.error else ""
        lines.append(
            (
                s.name,
                str(s.version),
                str(s.position),
                str(s.head),
                str(s.lag_events),
                f"{s.lag_seconds:.1f}",
                s.state,
                s.owner or "-",
                error,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
