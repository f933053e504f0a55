"""How the projector waits: for a stop, for the next commit, for a connection to close."""

from __future__ import annotations

import asyncio

import asyncpg

from adapters.store.notifier import HeadWatcher, wait_at_most


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stop` was set meanwhile."""
    await wait_at_most(stop, seconds)
    return stop.is_set()


async def wait_for_events(
    watcher: HeadWatcher, position: int, stop: asyncio.Event, idle_s: float
) -> None:
    """Until an event past `position` commits, `stop` is set, or `idle_s` (a lost NOTIFY) passes."""
    waits = [
        asyncio.ensure_future(watcher.wait_beyond(position, idle_s)),
        asyncio.ensure_future(stop.wait()),
    ]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def close_quietly(conn: asyncpg.Connection) -> None:
    try:
        async with asyncio.timeout(2):
            await conn.close()
    except Exception:
        conn.terminate()
    except asyncio.CancelledError:
        conn.terminate()
        raise
