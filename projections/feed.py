"""Reads the global event feed in position order, filtered to the types a projection reads."""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from adapters.store.rows import COLUMNS, envelope_from_row
from domain.envelope import EventEnvelope


async def read_range(
    conn: asyncpg.Connection, after: int, upto: int, types: Collection[str]
) -> list[EventEnvelope]:
    """The events in `(after, upto]` whose type is in `types`, in position order."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM events WHERE position > $1 AND position <= $2 "
        "AND type = ANY($3::text[]) ORDER BY position",
        after,
        upto,
        list(types),
    )
    return [envelope_from_row(row) for row in rows]
