"""Wakes readers when events commit, via LISTEN/NOTIFY, so nobody has to poll in a loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from adapters.store import reader

log = logging.getLogger(__name__)

CHANNEL = "flowledger_events"


class HeadWatcher:
    """Tracks the committed head position and lets readers wait for it to pass a point.

    A dedicated connection LISTENs; each commit of the store notifies its last position.
    If the connection drops, waiters are woken (so they re-read) and it reconnects.
    """

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._head = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    @property
    def head(self) -> int:
        return self._head

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="event-store-head-watcher")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_beyond(self, position: int, timeout: float) -> int:
        """Returns the head once it passes `position`, or the current head after `timeout`."""
        if self._head > position:
            return self._head
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._head > position), timeout=timeout
                )
        return self._head

    async def _advance(self, position: int) -> None:
        async with self._changed:
            if position > self._head:
                self._head = position
            self._changed.notify_all()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            asyncio.get_running_loop().create_task(self._advance(int(payload)))

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._database_url, timeout=5)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                # Read the head after LISTEN so no commit falls between the two.
                head = await reader.head(conn)
                await self._advance(head)
                self._connected.set()
                delay = 0.1
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), timeout=5)
                    if not lost.is_set():
                        # cheap liveness probe; a silently dead socket shows up here
                        await conn.fetchval("SELECT 1", timeout=5)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("event notifications lost (%s); reconnecting in %.1fs", error, delay)
            finally:
                self._connected.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
                async with self._changed:
                    self._changed.notify_all()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
