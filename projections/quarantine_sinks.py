"""Where a guarded apply keeps what it sets aside: the live view's quarantine table
(`TableSink`), or a rebuild's, kept in memory until its swap (`MemorySink`)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

import asyncpg

from domain.envelope import EventEnvelope
from projections.quarantine import error_text

log = logging.getLogger(__name__)


class TableSink:
    """The live view's quarantine: rows of `projection_quarantine`, in the batch's transaction."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def parked(self, conn: asyncpg.Connection, streams: Collection[str]) -> set[str]:
        rows = await conn.fetch(
            "SELECT DISTINCT stream_id FROM projection_quarantine "
            "WHERE projection = $1 AND stream_id = ANY($2::text[])",
            self.name,
            list(streams),
        )
        return {row["stream_id"] for row in rows}

    async def park(self, conn: asyncpg.Connection, events: Sequence[EventEnvelope]) -> None:
        if not events:
            return
        await conn.executemany(
            "INSERT INTO projection_quarantine "
            "(projection, position, event_id, stream_id, type, status) "
            "VALUES ($1, $2, $3, $4, $5, 'parked') ON CONFLICT (projection, position) DO NOTHING",
            [(self.name, e.position, e.event_id, e.stream_id, e.type) for e in events],
        )

    async def poison(
        self, conn: asyncpg.Connection, event: EventEnvelope, error: BaseException
    ) -> None:
        log.error(
            "projection %s quarantined event %d (%s of stream %s): %s; its stream's later "
            "events wait behind it, the other streams go on",
            self.name,
            event.position,
            event.type,
            event.stream_id,
            error_text(error),
            exc_info=error,
        )
        await conn.execute(
            "INSERT INTO projection_quarantine (projection, position, event_id, stream_id, type, "
            "status, error, error_class) VALUES ($1, $2, $3, $4, $5, 'poison', $6, $7) "
            "ON CONFLICT (projection, position) DO UPDATE SET status = 'poison', "
            "error = excluded.error, error_class = excluded.error_class, last_tried = now(), "
            "attempts = projection_quarantine.attempts + 1",
            self.name,
            event.position,
            event.event_id,
            event.stream_id,
            event.type,
            str(error),
            error_class(error),
        )

    async def held(self, conn: asyncpg.Connection, stream_id: str) -> list[int]:
        rows = await conn.fetch(
            "SELECT position FROM projection_quarantine WHERE projection = $1 AND stream_id = $2 "
            "ORDER BY position FOR UPDATE",
            self.name,
            stream_id,
        )
        return [row["position"] for row in rows]

    async def release(self, conn: asyncpg.Connection, positions: Collection[int]) -> None:
        await conn.execute(
            "DELETE FROM projection_quarantine WHERE projection = $1 "
            "AND position = ANY($2::bigint[])",
            self.name,
            list(positions),
        )


class MemorySink:
    """A rebuild's quarantine: kept aside until the swap, which replaces the live one with it
    (the rebuilt tables and their quarantine go live together)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows: dict[int, tuple] = {}
        self._streams: set[str] = set()

    async def parked(self, conn: asyncpg.Connection, streams: Collection[str]) -> set[str]:
        return self._streams.intersection(streams)

    async def park(self, conn: asyncpg.Connection, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            self.rows[e.position] = (e.event_id, e.stream_id, e.type, "parked", None, None)

    async def poison(
        self, conn: asyncpg.Connection, event: EventEnvelope, error: BaseException
    ) -> None:
        log.error(
            "rebuilding %s: quarantined event %d (%s of stream %s): %s",
            self.name,
            event.position,
            event.type,
            event.stream_id,
            error_text(error),
            exc_info=error,
        )
        self._streams.add(event.stream_id)
        self.rows[event.position] = (
            event.event_id,
            event.stream_id,
            event.type,
            "poison",
            str(error),
            error_class(error),
        )

    async def held(self, conn: asyncpg.Connection, stream_id: str) -> list[int]:
        return sorted(p for p, row in self.rows.items() if row[1] == stream_id)

    async def release(self, conn: asyncpg.Connection, positions: Collection[int]) -> None:
        streams = {self.rows.pop(p)[1] for p in positions if p in self.rows}
        still = {row[1] for row in self.rows.values()}
        self._streams -= streams - still

    async def replace_live(self, conn: asyncpg.Connection) -> None:
        """Inside the swap: the live quarantine becomes this one. A row already there keeps
        when it was first seen, and counts this as one more attempt."""
        positions = list(self.rows)
        await conn.execute(
            "DELETE FROM projection_quarantine WHERE projection = $1 "
            "AND NOT (position = ANY($2::bigint[]))",
            self.name,
            positions,
        )
        await conn.executemany(
            "INSERT INTO projection_quarantine (projection, position, event_id, stream_id, type, "
            "status, error, error_class) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (projection, position) DO UPDATE SET status = excluded.status, "
            "error = excluded.error, error_class = excluded.error_class, last_tried = now(), "
            "attempts = projection_quarantine.attempts + 1",
            [(self.name, position, *row) for position, row in sorted(self.rows.items())],
        )


def error_class(error: BaseException) -> str:
    """The error's class, module-qualified unless it is a builtin."""
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"
