"""How the projector waits: for a stop, for the next commit, for a connection to close."""

from __future__ import annotations

import asyncio
from collections.abc import Set

import asyncpg

from adapters.store.notifier import HeadWatcher, wait_at_most


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stop` was set meanwhile."""
    await wait_at_most(stop, seconds)
    return stop.is_set()


async def wait_for_reads(
    watcher: HeadWatcher, position: int, types: Set[str], stop: asyncio.Event, wait_s: float
) -> bool:
    """Until a commit past `position` may hold one of `types`, `stop` is set, or `wait_s`
    passes; False in the last case. Commits of other types wake nobody here."""
    waits = [
        asyncio.ensure_future(watcher.commits.wait_for(position, types, wait_s)),
        asyncio.ensure_future(stop.wait()),
    ]
    try:
        await asyncio.wait(waits, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return stop.is_set() or watcher.head > position


async def close_quietly(conn: asyncpg.Connection) -> None:
    try:
        async with asyncio.timeout(2):
            await conn.close()
    except Exception:
        conn.terminate()
    except asyncio.CancelledError:
        conn.terminate()
        raise
