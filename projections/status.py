"""How far behind the event feed each projection is, and whether it is served at all."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from adapters.store import reader
from projections.quarantine_ops import QuarantineSummary, summaries
from projections.reached import reached


class ProjectionStatus(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    position: int
    """Every event up to it is applied, or not the view's to apply (`projections.reached`)."""
    head: int
    """The last event committed."""
    lag_events: int
    lag_seconds: float
    """Recorded time of the head event minus that of the last event applied; 0 when caught up."""
    state: str
    """running, failed (stopped at a poison event, see `error`: only a view whose policy is
    `on_error = "stop"`; the others quarantine it, see `quarantine`), rebuilding, or stopped."""
    error: str | None
    error_position: int | None
    owner: str | None
    """host:pid of the process serving it."""
    updated_at: datetime
    quarantine: QuarantineSummary | None = None
    """Events set aside because a handler failed on them (the view serves the rest, and marks
    the rows they belong to degraded); None when there are none."""


_CHECKPOINTS = """
SELECT name, version, position, state, error, error_position, owner, updated_at
  FROM projection_checkpoints ORDER BY name
"""


async def projection_status(conn: asyncpg.Connection | asyncpg.Pool) -> list[ProjectionStatus]:
    rows = await conn.fetch(_CHECKPOINTS)
    head = await reader.head(conn)
    # Past the checkpoint when the events after it are none of the view's to apply.
    reach = await reached(conn, [row["name"] for row in rows])
    # Before its first event, a projection is as far behind as the first event is old.
    applied = {max(reach.get(row["name"], row["position"]), 1) for row in rows}
    recorded = await reader.recorded_at(conn, [head, *applied])
    quarantined = await summaries(conn)
    return [
        _status(
            row,
            reach.get(row["name"], row["position"]),
            head,
            recorded,
            quarantined.get(row["name"]),
        )
        for row in rows
    ]


def _status(
    row: asyncpg.Record,
    position: int,
    head: int,
    recorded: dict[int, datetime],
    quarantine: QuarantineSummary | None,
) -> ProjectionStatus:
    behind = 0.0
    if head > position and head in recorded:
        last = recorded.get(max(position, 1), recorded[head])
        behind = max((recorded[head] - last).total_seconds(), 0.0)
    return ProjectionStatus(
        name=row["name"],
        version=row["version"],
        position=position,
        head=head,
        lag_events=max(head - position, 0),
        lag_seconds=behind,
        state=row["state"],
        error=row["error"],
        error_position=row["error_position"],
        owner=row["owner"],
        updated_at=row["updated_at"],
        quarantine=quarantine,
    )


def status_table(statuses: list[ProjectionStatus]) -> str:
    """A fixed-width table for the terminal, one projection a line."""
    header = (
        "NAME",
        "VERSION",
        "POSITION",
        "HEAD",
        "LAG",
        "LAG_S",
        "STATE",
        "OWNER",
        "QUARANTINED",
        "ERROR",
    )
    lines = [header]
    for s in statuses:
        error = f"at {s.error_position}: {s.error}" if s.error else ""
        q = s.quarantine
        held = f"{q.events} ({q.streams} streams, from {q.oldest_position})" if q else "-"
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
                held,
                error,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
