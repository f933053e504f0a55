"""Process-wide timers over every connection: heartbeats, stalled sends, credential re-checks.

One timer per process rather than per connection keeps an idle connection cheap, and sessions
sharing a credential share its re-check (one read of the key, not one per connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from gateway.config import GatewayConfig
from gateway.watch import Refused

log = logging.getLogger(__name__)


class GoingAway(Exception):
    """The gateway is shutting down: the client should reconnect, to this one or another."""


class Kept(Protocol):
    """What the keeper needs of a connection (gateway.session.Session is one).

    Declared here, not imported: the session joins its keeper, so importing the session back
    would tie the two modules in a circle.
    """

    credential: str
    """Connections holding the same credential share one re-check."""
    check: Callable[[], Awaitable[None]]
    """Raises Refused once the credential no longer holds."""

    def beat(self, now: float) -> None:
        """Queue a heartbeat at loop time `now`, or end a connection whose send has stalled."""

    def end(self, why: BaseException | None) -> None:
        """Stop streaming; `why` decides the close code."""


class Keeper:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.sessions: set[Kept] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._emptied = asyncio.Event()
        """Set while no session is open (each leaves once its close frame is sent)."""
        self._emptied.set()

    def add(self, session: Kept) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._beat_forever(), name="gateway-heartbeats"),
                asyncio.create_task(self._recheck_forever(), name="gateway-rechecks"),
            ]
        self.sessions.add(session)
        self._emptied.clear()

    def discard(self, session: Kept) -> None:
        self.sessions.discard(session)
        if not self.sessions:
            self._emptied.set()

    async def going_away(self, within_s: float) -> None:
        """Close every connection with 1001 and its resume position; wait for them, bounded."""
        for session in list(self.sessions):
            session.end(GoingAway())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._emptied.wait(), within_s)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _beat_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            now = loop.time()
            for session in list(self.sessions):
                session.beat(now)

    async def _recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.recheck_s)
            by_credential: dict[str, list[Kept]] = {}
            for session in list(self.sessions):
                by_credential.setdefault(session.credential, []).append(session)
            for sessions in by_credential.values():
                await self._recheck(sessions)

    async def _recheck(self, sessions: list[Kept]) -> None:
        try:
            await sessions[0].check()
        except Refused as refused:
            for session in sessions:
                session.end(refused)
        except Exception as error:  # the key store is out of reach: nothing says it was revoked
            log.warning("gateway: re-checking a credential failed: %s", error)
