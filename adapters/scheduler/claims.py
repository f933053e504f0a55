"""A batch of due slots claimed by one scheduler at a time: a transaction-scoped advisory lock.

Only to spare work: two schedulers that both fire one batch stay correct (each run's stream is
expected new, so each slot is written once), but one of them built and sent it for nothing.
A scheduler first tries each batch and passes over those another holds; then it waits on
those (bounded) and fires what the holder left unfired, so a holder that died mid-batch costs
a delay, never a slot.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from adapters.store.locks import lock_key

WAIT_MS = 30_000
"""How long a scheduler waits on a batch another holds before firing it anyway."""


@contextlib.asynccontextmanager
async def claimed(pool: asyncpg.Pool, key: str, *, wait: bool) -> AsyncIterator[bool]:
    """True while this scheduler holds `key`'s batch; False (at once) when another does and
    `wait` is false, or after `WAIT_MS` of waiting when it is true."""
    async with pool.acquire() as conn, conn.transaction():
        lock = lock_key("schedule-batch", key)
        if not wait:
            yield await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", lock)
            return
        await conn.execute(f"SET LOCAL lock_timeout = {WAIT_MS}")
        try:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
        except asyncpg.LockNotAvailableError:
            yield False  # the timeout aborted the transaction: nothing more runs on it
            return
        yield True
