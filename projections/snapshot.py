"""A read-only snapshot of some views that a rebuild's swap cannot split in two."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import asyncpg

from projections.projection import live_schema

_TABLES = """
SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
"""


@contextlib.asynccontextmanager
async def views_snapshot(conn: asyncpg.Connection, names: Sequence[str]) -> AsyncIterator[None]:
    """A REPEATABLE READ, read-only transaction over the views `names` (e.g. `["runs"]`).

    A swap renames schemas, and names resolve outside the snapshot: a transaction whose
    snapshot predates a swap would read the new tables as of that snapshot, half-built or
    empty. So the views' tables are locked first (LOCK takes no snapshot): a swap under way
    finishes before the snapshot is taken, and a later one waits for this transaction.
    """
    # Listed outside the transaction: a SELECT inside it would take the snapshot too early.
    tables = await conn.fetchval(_TABLES, [live_schema(name) for name in names])
    # Filters on skewed columns (a branch, a status) make a cached generic plan pick the
    # wrong index: plan each read for its actual values (bench/projection.py: p99 54 -> 18 ms).
    settings = "SET LOCAL plan_cache_mode = force_custom_plan"
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if tables:
            await conn.execute(f"{settings}; LOCK TABLE {tables} IN ACCESS SHARE MODE")
        else:
            await conn.execute(settings)
        yield
