"""How the projector waits: for a stop, for the next commit, for a connection to close."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from adapters.store.notifier import HeadWatcher


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stop` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
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
        await asyncio.wait_for(conn.close(), 2)
    except Exception:
        conn.terminate()
    except asyncio.CancelledError:
        conn.terminate()
        raise
