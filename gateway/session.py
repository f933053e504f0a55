"""One WebSocket connection's stream: replay from the table, then the feed's live events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from adapters.telemetry.metrics import (
    WEBSOCKET_CONNECTIONS,
    WEBSOCKET_MESSAGES,
    WEBSOCKET_SLOW_CONSUMERS,
)
from gateway import codes, eager, events
from gateway.config import GatewayConfig
from gateway.feed import Feed
from gateway.keeper import GoingAway, Keeper
from gateway.watch import Refused, Route, Watch

Recheck = Callable[[], Awaitable[None]]
"""Raises Refused once the connection's credential no longer holds."""
HEARTBEAT = 0
"""The queue entry that stands for a heartbeat (positions start at 1)."""

log = logging.getLogger(__name__)


class SlowConsumer(Exception):
    """The send queue overflowed, or one send stalled for a heartbeat period."""


_CLIENT_GONE = (SlowConsumer, Refused, WebSocketDisconnect, OSError)
"""How a session's tasks end without anything being wrong with the gateway."""


class Session:
    """Sends every event the watch covers once, in position order, after `last`."""

    def __init__(
        self,
        socket: WebSocket,
        watch: Watch,
        config: GatewayConfig,
        after: int | None,
        credential: str,
        check: Recheck,
    ) -> None:
        self.socket = socket
        self.watch = watch
        self.route: Route = watch.route
        self.config = config
        self.after = after
        """Without `after`, a client starts with what happens next: no replay."""
        self.credential = credential
        """Sessions holding the same credential share one re-check."""
        self.check = check
        self.last = 0
        """The position of the last event sent."""
        self.queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue(config.queue_size)
        self.ended: asyncio.Future[BaseException | None] = (
            asyncio.get_running_loop().create_future()
        )
        self.sending_since: float | None = None
        self._idle = False
        """Set while the stream waits on an empty queue, past its replay."""
        self._sending: asyncio.Task[None] | None = None
        """A send started at once that had to wait; the stream lets it finish first."""

    def offer(self, position: int, body: str) -> None:
        """Take a live message; never waits, so one slow client holds up no other.

        Sent at once when nothing is ahead of it (the stream waits on an empty queue and no
        send is under way): a send into a socket with room finishes without waiting, and a
        turn of the loop per client per message was most of what fan-out cost. A send that
        has to wait goes on in a task of its own; what comes meanwhile queues behind it.
        """
        if self._idle and (self._sending is None or self._sending.done()) and self.queue.empty():
            self._send_at_once(position, body)
            return
        try:
            self.queue.put_nowait((position, body))
        except asyncio.QueueFull:
            self.end(SlowConsumer())

    def beat(self, now: float) -> None:
        """Queue a heartbeat, unless a send has stalled for a whole period (a slow consumer)."""
        since = self.sending_since
        if since is not None and now - since > self.config.heartbeat_s:
            self.end(SlowConsumer())
        else:
            self.offer(HEARTBEAT, "")

    def end(self, why: BaseException | None) -> None:
        """Stop streaming; `why` decides the close code (None: the client left)."""
        if not self.ended.done():
            self.ended.set_result(why)

    async def run(self, feed: Feed, keeper: Keeper, pool: asyncpg.Pool) -> None:
        """Stream until the client leaves or must be cut off; closes the socket with the code."""
        # Joining first buffers what goes live during the replay; `deliver` drops the overlap.
        baseline = feed.join(self)
        keeper.add(self)
        connections = WEBSOCKET_CONNECTIONS.labels(self.watch.level)
        connections.inc()
        try:
            try:
                self.last = baseline if self.after is None else self.after
                why = await self._serve(pool, baseline)
            finally:
                feed.leave(self)
            await self._close_for(why)
        finally:
            connections.dec()
            keeper.discard(self)  # only now: a shutdown waits for the close frames to go out

    async def send(self, body: str) -> None:
        self.sending_since = asyncio.get_running_loop().time()
        await self.socket.send_data(body, mode="text")
        self.sending_since = None

    async def deliver(self, position: int, body: str) -> None:
        if position > self.last:  # skips what replay and live both carried across the seam
            await self.send(body)
            self.last = position
            WEBSOCKET_MESSAGES.inc()

    async def _deliver_entry(self, position: int, body: str) -> None:
        if position == HEARTBEAT:
            await self.send(f'{{"type":"heartbeat","position":{self.last}}}')
        else:
            await self.deliver(position, body)

    def _send_at_once(self, position: int, body: str) -> None:
        if self.ended.done():
            return
        try:
            self._sending = eager.start(self._deliver_entry(position, body))
        except Exception as error:
            self._failed(error)
        else:
            if self._sending is not None:
                self._sending.add_done_callback(self._sent)

    async def _replay(self, pool: asyncpg.Pool, upto: int) -> None:
        """Send what the watch covers in `(last, upto]`, read from the events table."""
        after, level, target = self.last, self.watch.level, self.watch.target or ""
        while after < upto and not self.ended.done():
            try:
                async with pool.acquire() as conn:
                    found = await events.replay(
                        conn, level, target, after, upto, self.config.replay_batch
                    )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                reason = f"database unavailable; resume after={self.last}"
                raise Refused(codes.UNAVAILABLE, reason) from None
            if not found:
                return
            for envelope in found:
                await self.deliver(envelope.position, msgspec.json.encode(envelope).decode())
            after = found[-1].position

    async def _stream(self, pool: asyncpg.Pool, baseline: int) -> None:
        """The replay, then the live queue: one task, so a stalled send is cut off in either."""
        if self.last < baseline:
            await self._replay(pool, baseline)
        while True:
            self._idle = self.queue.empty()
            position, body = await self.queue.get()
            self._idle = False
            if self._sending is not None:
                await asyncio.wait((self._sending,))  # what was sent at once goes first
                self._sending = None
                if self.ended.done():  # that send failed
                    return
            await self._deliver_entry(position, body)

    async def _until_client_leaves(self) -> None:
        while True:
            await self.socket.receive_data(mode="text")  # raises once the client is gone

    async def _serve(self, pool: asyncpg.Pool, baseline: int) -> BaseException | None:
        tasks = (
            asyncio.create_task(self._stream(pool, baseline)),
            asyncio.create_task(self._until_client_leaves()),
        )
        for task in tasks:
            task.add_done_callback(self._task_done)
        try:
            return await self.ended
        finally:
            self._idle = False
            if self._sending is not None:
                tasks = (*tasks, self._sending)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            self._failed(task.exception())

    def _sent(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failed(task.exception())

    def _failed(self, error: BaseException | None) -> None:
        if error is not None and not isinstance(error, _CLIENT_GONE):
            log.warning("gateway: a session failed", exc_info=error)
        # Anything but a refusal or a slow consumer: nothing left to tell the client.
        self.end(error if isinstance(error, SlowConsumer | Refused) else None)

    async def _close_for(self, why: BaseException | None) -> None:
        if isinstance(why, SlowConsumer):
            WEBSOCKET_SLOW_CONSUMERS.inc()
            code, reason = codes.SLOW_CONSUMER, f"slow consumer; resume after={self.last}"
        elif isinstance(why, GoingAway):
            code, reason = codes.GOING_AWAY, f"going away; resume after={self.last}"
        elif isinstance(why, Refused):
            code, reason = why.code, why.reason
        else:
            return  # the client left, or its socket failed: nothing to tell it
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.socket.close(code=code, reason=codes.reason(reason)), self.config.close_wait_s
            )
