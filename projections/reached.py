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

_REACHED = f"""
SELECT c.name,
       CASE WHEN c.reads IS NULL OR c.position >= h.head THEN c.position
            ELSE coalesce(
                (SELECT min(e.position) - 1 FROM events e
                  WHERE e.position > c.position
                    AND e.position <= least(h.head, c.position + {LOOK_AHEAD})
                    AND e.type = ANY(c.reads)),
                least(h.head, c.position + {LOOK_AHEAD}))
       END AS reached
  FROM projection_checkpoints c,
       (SELECT coalesce(max(position), 0) AS head FROM events) AS h
 WHERE c.name = ANY($1::text[])
"""
# Positions are given out in commit order without gaps, so every event up to the head read
# in the same statement is visible to it: none of the range can be missing from the look.


async def reached(conn: asyncpg.Connection | asyncpg.Pool, names: Sequence[str]) -> dict[str, int]:
    """Each named view's reach; a view without a checkpoint row is left out."""
    rows = await conn.fetch(_REACHED, list(names))
    return {row["name"]: row["reached"] for row in rows}


async def least_reached(conn: asyncpg.Connection | asyncpg.Pool, names: Sequence[str]) -> int:
    """The position every named view has reached (0 if one has no checkpoint row)."""
    found = await reached(conn, names)
    return min(found.get(name, 0) for name in names)
