"""One WebSocket connection's stream: live buffer, replay, de-duplication, bounded sending."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec
from litestar import WebSocket
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from adapters.relay.message import POSITION
from adapters.relay.subjects import Owner
from gateway import codes, events
from gateway.config import GatewayConfig
from gateway.watch import Refused, Watch

Recheck = Callable[[], Awaitable[None]]
"""Raises Refused once the connection's credential no longer holds."""


class SlowConsumer(Exception):
    """The send queue overflowed, or one send took longer than a heartbeat period."""


class Session:
    """Sends every event the watch covers once, in position order, after `last`."""

    def __init__(
        self, socket: WebSocket, watch: Watch, config: GatewayConfig, after: int | None
    ) -> None:
        self.socket = socket
        self.watch = watch
        self.config = config
        self.resume = after is not None
        """Without `after`, a client starts with what happens next: no replay."""
        self.last = after or 0
        """The position of the last event sent."""
        self.queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(config.queue_size)
        self.overflowed = asyncio.Event()
        self._sending = asyncio.Lock()
        self._owners: dict[str, Owner] = {}

    def offer(self, position: int, body: bytes) -> None:
        """Take a live message; never waits, so one slow client holds up no other."""
        try:
            self.queue.put_nowait((position, body))
        except asyncio.QueueFull:
            self.overflowed.set()

    async def on_message(self, msg: Msg) -> None:
        try:
            position = int((msg.headers or {})[POSITION])
        except (KeyError, ValueError):
            return
        self.offer(position, msg.data)

    async def send(self, body: bytes | str) -> None:
        async with self._sending:
            await self.socket.send_data(body, mode="text")

    async def deliver(self, position: int, body: bytes) -> None:
        if position > self.last:  # skips what replay and live both carried across the seam
            await self.send(body)
            self.last = position

    async def replay(self, pool: asyncpg.Pool) -> None:
        """Send what the watch covers in `(last, head]`, read from the events table."""
        async with pool.acquire() as conn:
            upto = await events.head(conn)
            stream = self.watch.target if self.watch.kind == "run" else None
            after = self.last
            while after < upto:
                found = await events.batch(conn, after, upto, self.config.replay_batch, stream)
                if not found:
                    break
                unknown = {e.stream_id for e in found} - self._owners.keys()
                if unknown:
                    self._owners.update(await events.owners(conn, unknown))
                for envelope in found:
                    if self.watch.matches(envelope.stream_id, self._owners[envelope.stream_id]):
                        await self.deliver(envelope.position, msgspec.json.encode(envelope))
                after = found[-1].position

    async def pump(self) -> None:
        while True:
            position, body = await self.queue.get()
            await self.deliver(position, body)

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            beat = msgspec.json.encode({"type": "heartbeat", "position": self.last})
            try:
                await asyncio.wait_for(self.send(beat), self.config.heartbeat_s)
            except TimeoutError:
                raise SlowConsumer from None

    async def recheck(self, check: Recheck) -> None:
        while True:
            await asyncio.sleep(self.config.recheck_s)
            await check()

    async def until_client_leaves(self) -> None:
        while True:
            await self.socket.receive_data(mode="text")  # raises once the client is gone

    async def run(self, nc: NatsClient, pool: asyncpg.Pool, check: Recheck) -> None:
        """Stream until the client leaves or must be cut off; closes the socket with the code."""
        # Live first, buffered in the queue, so nothing committed during the replay is missed.
        sub = await nc.subscribe(self.watch.subject(self.config.prefix), cb=self.on_message)
        try:
            await nc.flush()
            if self.resume:
                await self.replay(pool)
            await self._serve(check)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _serve(self, check: Recheck) -> None:
        tasks = [
            asyncio.create_task(self.pump()),
            asyncio.create_task(self.heartbeat()),
            asyncio.create_task(self.recheck(check)),
            asyncio.create_task(self.until_client_leaves()),
            asyncio.create_task(self.overflowed.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        error = next(iter(done)).exception()
        await self._close_for(SlowConsumer() if self.overflowed.is_set() else error)

    async def _close_for(self, error: BaseException | None) -> None:
        if isinstance(error, SlowConsumer):
            code, reason = codes.SLOW_CONSUMER, f"slow consumer; resume after={self.last}"
        elif isinstance(error, Refused):
            code, reason = error.code, error.reason
        else:
            return  # the client left, or its socket failed: nothing to tell it
        with contextlib.suppress(Exception):
            await self.socket.close(code=code, reason=reason)
