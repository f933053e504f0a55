"""One NATS subscription per gateway process: every event once, in position order, fanned out.

Positions are global and gap-free, so the feed knows when it missed something (a message that
is not `last + 1`, or a reconnect to NATS) and reads the gap from the events table first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import asyncpg
import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry.trace import SpanKind

from adapters.streaming.nats import NatsConnection
from adapters.streaming.relay.message import POSITION, TRACEPARENT
from adapters.streaming.relay.subjects import Owner
from adapters.telemetry.tracing import span
from gateway import events
from gateway.config import GatewayConfig
from gateway.watch import Route, owner_routes, subject_routes

log = logging.getLogger(__name__)

OWNERS_KEPT = 50_000
"""Streams whose owner the feed remembers for backfills (live messages carry it in subjects)."""


class Subscriber(Protocol):
    route: Route

    def offer(self, position: int, body: str) -> None:
        """Take one event; must not wait (one slow subscriber holds up no other)."""


class Feed:
    """Started by the first connection of the process; `last` is the last position fanned out."""

    def __init__(self, nats: NatsConnection, pool: asyncpg.Pool, config: GatewayConfig) -> None:
        self.nats = nats
        """The process's one NATS connection, shared with the rest of the app."""
        self.pool = pool
        self.config = config
        self.last = 0
        self.backfilled = 0
        """Events read from the table because NATS did not bring them (gaps, reconnects)."""
        self._sub: Subscription | None = None
        self._starting: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        """Held while fanning out: live messages and backfills take their turn in order."""
        self._subscribers: dict[Route, set[Subscriber]] = {}
        self._owners: dict[str, Owner] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop_hearing: Callable[[], None] = lambda: None

    @property
    def connected(self) -> bool:
        return self._sub is not None and self.nats.connected

    @property
    def subscribers(self) -> int:
        return sum(len(found) for found in self._subscribers.values())

    async def start(self) -> bool:
        """Connect and subscribe once per process; False while NATS is out of reach."""
        if self._starting is None or (self._starting.done() and self._sub is None):
            # (again if a start failed, e.g. on the database: nothing is subscribed yet)
            self._starting = asyncio.create_task(self._start(), name="gateway-feed-start")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._starting), self.config.connect_wait_s)
        return self.connected

    def join(self, subscriber: Subscriber) -> int:
        """Deliver from now on; returns `last`, the position after which deliveries start."""
        self._subscribers.setdefault(subscriber.route, set()).add(subscriber)
        return self.last

    def leave(self, subscriber: Subscriber) -> None:
        found = self._subscribers.get(subscriber.route)
        if found is not None:
            found.discard(subscriber)
            if not found:
                del self._subscribers[subscriber.route]

    async def close(self) -> None:
        """Stop listening; the connection itself is the app's to drain and close."""
        self._stop_hearing()
        for task in (*self._tasks, *([self._starting] if self._starting else [])):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _start(self) -> None:
        await self.nats.connected_once()
        async with self._lock:
            sub = await self.nats.client.subscribe(f"{self.config.prefix}.>", cb=self._on_message)
            try:
                await self.nats.client.flush()
                async with self.pool.acquire() as conn:
                    self.last = await events.head(conn)
            except BaseException:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
                raise
            self._sub = sub
            # nats-py subscribes again by itself after a reconnect; what was published while
            # away is read from the table.
            self._stop_hearing = self.nats.on_reconnected(self._on_reconnected)

    async def _on_message(self, msg: Msg) -> None:
        try:
            position = int((msg.headers or {})[POSITION])
        except (KeyError, ValueError):
            return
        routes = subject_routes(self.config.prefix, msg.subject)
        if routes is None or position <= self.last:  # a relay's republished copy, or backfilled
            return
        async with self._lock:
            if self._sub is None or position <= self.last:  # not started, or seen already
                return
            if position > self.last + 1 and not await self._backfill(position - 1):
                return  # the table is out of reach: the next message tries the gap again
            try:
                body = await events.opened(self.pool, msg.data)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("gateway: cannot open personal values at %s: %s", position, error)
                return  # never sealed text to a client; the next message backfills this one
            with span(
                "gateway fan-out",
                # The message's own trace, whatever task this callback happens to run in.
                continues=(msg.headers or {}).get(TRACEPARENT),
                kind=SpanKind.CONSUMER,
                attributes={"flowledger.position": position},
            ):
                self._fan_out(position, routes, body.decode())

    async def _on_reconnected(self) -> None:
        # What was published while we were away never reaches us: read it from the table.
        task = asyncio.create_task(self._catch_up(), name="gateway-feed-catch-up")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _catch_up(self) -> None:
        async with self._lock:
            if self._sub is None:  # not started: the start reads the head itself
                return
            try:
                async with self.pool.acquire() as conn:
                    upto = await events.head(conn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("gateway: cannot read the head after a NATS reconnect: %s", error)
                return
            await self._backfill(upto)

    async def _backfill(self, upto: int) -> bool:
        """Fan out `(last, upto]` from the events table; False if it could not be read."""
        try:
            async with self.pool.acquire() as conn:
                while self.last < upto:
                    found = await events.batch(conn, self.last, upto, self.config.replay_batch)
                    if not found:
                        return False
                    unknown = {e.stream_id for e in found} - self._owners.keys()
                    if unknown:
                        self._remember(await events.owners(conn, unknown))
                    for envelope in found:
                        owner = self._owners.get(envelope.stream_id, Owner())
                        routes = owner_routes(envelope.stream_type, envelope.stream_id, owner)
                        if any(route in self._subscribers for route in routes):
                            self._fan_out(envelope.position, routes, _encode(envelope))
                        else:  # nobody to send it to: not worth encoding
                            self.last = envelope.position
                        self.backfilled += 1
        except (OSError, asyncpg.PostgresError) as error:
            log.warning("gateway: backfill to %s stopped at %s: %s", upto, self.last, error)
            return False
        return True

    def _remember(self, owners: dict[str, Owner]) -> None:
        if len(self._owners) + len(owners) > OWNERS_KEPT:
            self._owners.clear()
        self._owners.update(owners)

    def _fan_out(self, position: int, routes: tuple[Route, ...], body: str) -> None:
        for route in routes:
            for subscriber in self._subscribers.get(route, ()):
                subscriber.offer(position, body)
        self.last = position


def _encode(envelope: object) -> str:
    return msgspec.json.encode(envelope).decode()
