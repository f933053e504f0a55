"""The one way flowledger connects to NATS: retried in the background, reported, drained on close.

Every role uses it (API and gateway, relay, dispatcher, runner, tail). nats-py with
`max_reconnect_attempts=-1` retries forever, the first connect included, and reconnects by
itself after a later outage; this class adds what each role needs around that: a bounded or
stoppable wait for the first connection, the last error for /ready, listeners for reconnects
(the gateway reads what it missed) and an orderly close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2
RECONNECT_WAIT_S = 0.5
START_WAIT_S = 3.0

Listener = Callable[[], Awaitable[None]]


def servers_of(url: str) -> list[str]:
    """FLOWLEDGER_NATS_URL may list several servers, comma-separated."""
    return [server.strip() for server in url.split(",")]


class NatsConnection:
    """A NATS client that keeps trying in the background instead of blocking its role."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "flowledger",
        reconnect_wait_s: float = RECONNECT_WAIT_S,
        quiet: bool = False,
    ) -> None:
        self.url = url
        self.name = name
        self.client = NatsClient()
        self.last_error: str | None = None
        """What the last failure said, until connected again (/ready shows it)."""
        self._reconnect_wait_s = reconnect_wait_s
        self._quiet = quiet
        self._connecting: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []

    @property
    def connected(self) -> bool:
        return self.client.is_connected

    def jetstream(self) -> JetStreamContext:
        return self.client.jetstream()

    def on_reconnected(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after each reconnect; returns what stops that."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def begin(self) -> asyncio.Task[None]:
        """Start connecting (once); the task ends when first connected."""
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect(), name=f"{self.name}-connect")
        return self._connecting

    async def start(self, wait_s: float = START_WAIT_S) -> bool:
        """Begin connecting; return once connected or after `wait_s`, whichever comes first."""
        connecting = self.begin()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(connecting), wait_s)
        return self.connected

    async def connected_once(self) -> None:
        """Wait, however long, for the first connection (cancelling the wait stops nothing)."""
        await asyncio.shield(self.begin())

    async def until_connected(self, stop: asyncio.Event) -> bool:
        """Wait for the first connection; False if `stop` is set first."""
        connecting = self.begin()
        stopping = asyncio.create_task(stop.wait(), name=f"{self.name}-stop")
        try:
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not connecting.done():
            return False
        connecting.result()  # a connect that failed outright (a bad URL) says so here
        return True

    async def close(self, *, drain: bool = True) -> None:
        """Drain if connected (flushes what is pending), else stop trying; then closed.

        `drain=False` flushes and closes instead: a drain waits out its timeout on pull
        subscriptions' inboxes (the runner's).
        """
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self.client.is_connected:
            try:
                if drain:
                    await self.client.drain()
                    return
                await self.client.flush(timeout=2)
            except Exception as exc:  # a failed drain must not keep the process from exiting
                log.warning("NATS %s: drain failed: %s", self.name, exc)
        if not self.client.is_closed:
            with contextlib.suppress(Exception):
                await self.client.close()

    async def _connect(self) -> None:
        await self.client.connect(
            servers_of(self.url),
            name=self.name,
            connect_timeout=CONNECT_TIMEOUT_S,
            reconnect_time_wait=self._reconnect_wait_s,
            max_reconnect_attempts=-1,
            error_cb=self._on_error,
            reconnected_cb=self._on_reconnected,
        )
        self.last_error = None

    async def _on_error(self, exc: Exception) -> None:
        message = str(exc) or type(exc).__name__
        # nats-py reports every failed attempt: one line per new kind of failure is enough.
        if message != self.last_error and not self._quiet:
            log.warning("NATS %s (%s): %s", self.url, self.name, message)
        self.last_error = message

    async def _on_reconnected(self) -> None:
        self.last_error = None
        for listener in list(self._listeners):
            try:
                await listener()
            except Exception:  # one listener's failure must not keep the others from hearing
                log.exception("NATS %s: a reconnect listener failed", self.name)
