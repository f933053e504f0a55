"""Wakes readers when events commit, via LISTEN/NOTIFY, so nobody has to poll in a loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from adapters.store import reader
from adapters.store.commit_notes import RecentCommits, parse
from adapters.store.locks import SESSION_KEEPALIVES

log = logging.getLogger(__name__)

CHANNEL = "flowledger_events"
STOP_WAIT_S = 5.0
"""How long `stop` waits for the listener to end before leaving it behind (and saying so)."""


async def wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set or `seconds` pass. Not asyncio.wait_for, which on Python 3.11
    swallows a cancel that lands just as its inner wait ends (a kill -9 sets `lost` and has
    the caller cancel at once): a loop around it then outlives its cancellation."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


class HeadWatcher:
    """Tracks the committed head position and lets readers wait for it to pass a point.

    A dedicated connection LISTENs; each commit of the store notifies its positions and the
    types of its events (kept in `commits`). If the connection drops, waiters are woken (so
    they re-read) and it reconnects.
    """

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._head = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.commits = RecentCommits()

    @property
    def head(self) -> int:
        return self._head

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="event-store-head-watcher")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self._connected.wait()

    async def stop(self) -> None:
        """Cancel the listener and wait for it, for a bounded time: a caller stopping because
        its own connection dropped (the relay, the projector) must never hang here."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_WAIT_S)
        if not done:
            log.error(
                "event notifications: the listener did not stop within %.0fs; left behind",
                STOP_WAIT_S,
            )
        elif not task.cancelled() and task.exception() is not None:
            log.warning("event notifications ended on %r", task.exception())

    async def wait_beyond(self, position: int, timeout: float) -> int:
        """Returns the head once it passes `position`, or the current head after `timeout`."""
        if self._head > position:
            return self._head
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._changed.wait_for(lambda: self._head > position)
        return self._head

    async def _advance(self, position: int) -> None:
        self._move_head(position)
        async with self._changed:
            self._changed.notify_all()

    def _move_head(self, position: int) -> None:
        # At once, not in the task that wakes `wait_beyond`: a reader woken by `commits`
        # must find the head already there.
        if position > self._head:
            self._head = position

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            note = parse(payload)
            self.commits.add(note)
            self._move_head(note.last)
            asyncio.get_running_loop().create_task(self._advance(note.last))

    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._database_url, timeout=5, server_settings=SESSION_KEEPALIVES
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                # Read the head after LISTEN so no commit falls between the two.
                head = await reader.head(conn)
                self.commits.known_from(head)
                self._move_head(head)
                await self._advance(head)
                self._connected.set()
                delay = 0.1
                while not lost.is_set():
                    await wait_at_most(lost, 5)
                    if not lost.is_set():
                        # cheap liveness probe; a silently dead socket shows up here
                        await conn.fetchval("SELECT 1", timeout=5)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("event notifications lost (%s); reconnecting in %.1fs", error, delay)
            finally:
                self._connected.clear()
                self.commits.forget()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
                async with self._changed:
                    self._changed.notify_all()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
