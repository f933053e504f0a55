"""How far each view's rows reach: the last position P such that they reflect every event up to
P. That is the checkpoint, or further: a projection moves its checkpoint over events it does
not read only now and then (`projections.progress`), and its rows reflect P as well as its
checkpoint when none of the events in between is of a type it reads (`reads`, written by the
projector that serves it). Waiters for a position (read-your-writes, the webhook intake, the
notifier) and the lag figures use this, so a view with nothing to apply is never waited for.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

LOOK_AHEAD = 10_000
"""Events looked through past a checkpoint at most: a view stopped far behind costs a
bounded read, and counts as reaching no further than that."""

_REACHED = "SELECT name, reached FROM views_reached($1::text[], $2::bigint)"
"""The reach of each named view: `views_reached` (migration 0019) compares each checkpoint
with the head and, for a view that names the types it `reads`, looks through the events past
its checkpoint, up to LOOK_AHEAD of them, for the first it reads. A function, so that its
statement is planned once per session rather than on every call."""
# Positions are given out in commit order without gaps, so every event up to the head read
# in the function's one statement is visible to it: none of the range can be missing from the
# look.


async def reached(conn: asyncpg.Connection | asyncpg.Pool, names: Sequence[str]) -> dict[str, int]:
    """Each named view's reach; a view without a checkpoint row is left out."""
    rows = await conn.fetch(_REACHED, list(names), LOOK_AHEAD)
    return {row["name"]: row["reached"] for row in rows}


async def least_reached(conn: asyncpg.Connection | asyncpg.Pool, names: Sequence[str]) -> int:
    """The position every named view has reached (0 if one has no checkpoint row)."""
    found = await reached(conn, names)
    return min(found.get(name, 0) for name in names)
