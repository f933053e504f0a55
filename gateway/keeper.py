"""Process-wide timers over every connection: heartbeats, stalled sends, credential re-checks.

One timer per process rather than per connection keeps an idle connection cheap, and sessions
sharing a credential share its re-check (one read of the key, not one per connection).
Heartbeats go out in `BEAT_TURNS` turns per period, each connection in its own turn: every one
still hears one per period, but 2,000 connections no longer get theirs in one burst of sends
that every live message behind it waited for.
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

BEAT_TURNS = 20
"""Turns per heartbeat period; a connection beats in one of them (the next one, round robin)."""


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
        self.sessions: dict[Kept, int] = {}
        """Every open connection, with the turn it beats in."""
        self._turns: list[set[Kept]] = [set() for _ in range(BEAT_TURNS)]
        self._next_turn = 0
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
        if session not in self.sessions:
            self.sessions[session] = self._next_turn
            self._turns[self._next_turn].add(session)
            self._next_turn = (self._next_turn + 1) % BEAT_TURNS
        self._emptied.clear()

    def discard(self, session: Kept) -> None:
        turn = self.sessions.pop(session, None)
        if turn is not None:
            self._turns[turn].discard(session)
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
        turn = 0
        while True:
            await asyncio.sleep(self.config.heartbeat_s / BEAT_TURNS)
            now = loop.time()
            for session in list(self._turns[turn]):
                session.beat(now)
            turn = (turn + 1) % BEAT_TURNS

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
