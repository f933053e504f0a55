"""Publishes a run of messages to one JetStream stream with many awaiting their acks, in order.

One acknowledged publish at a time costs a round trip per event. Here up to `window` publishes
are in flight, and each carries `Nats-Expected-Last-Msg-Id`: the `Nats-Msg-Id` of the message
before it. The server stores a message only while the stream's last message is that one, and
checks it after its duplicate check, so:

- a message lost on the way (a reconnect drops the client's buffer) or refused makes the one
  behind it fail, and every one after that: nothing is ever stored out of order;
- a message the stream already holds (a Nats-Msg-Id seen within the duplicate window) is
  acknowledged as a duplicate whatever the header says.

(`Nats-Expected-Last-Sequence` with counted sequences does not chain: when anything else moves
the stream by one, the message behind a refused one finds the count right and is stored
ahead of it. tests/integration/relay/test_pipeline.py shows the chain holding there.)

When a publish fails, the messages before it are acknowledged and the caller resumes from it.
The stream's last message is then unknown (the failed one may have been stored, another
process may have written): resuming sends one message at a time, without the header, until
one is stored afresh (not a duplicate); the next window chains from it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import Header
from nats.js.errors import APIError, NoStreamResponseError

EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
MSG_ID = "Nats-Msg-Id"
NO_RESPONDERS = "503"


class Ack(msgspec.Struct):
    """JetStream's answer to a publish (`PubAck`), or its error."""

    seq: int = 0
    duplicate: bool = False
    error: dict | None = None


_ack = msgspec.json.Decoder(Ack)


class Outgoing(NamedTuple):
    subject: str
    body: bytes
    headers: dict[str, str]


class Stopped(Exception):
    """A publish failed: `acked` messages from the start were acknowledged, in order."""

    def __init__(self, acked: int, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.acked = acked
        self.error = error


class Pipeline:
    """One stream's publisher; `last_id` is the Nats-Msg-Id of the stream's last message as far
    as this publisher knows (None: not known, so the next message goes alone). Every message
    must carry a Nats-Msg-Id.

    Its acks come to an inbox of its own, read here: nats-py's `publish_async` leaves an error
    answer's future unresolved (its error parser raises instead of returning), which would turn
    every refusal into a wait for the timeout.
    """

    def __init__(self, nc: NatsClient, stream: str, *, window: int, ack_timeout_s: float):
        self.nc = nc
        self.stream = stream
        self.window = max(1, window)
        self.ack_timeout_s = ack_timeout_s
        self.last_id: str | None = None
        self._inbox = ""
        self._sub: Subscription | None = None
        self._waiting: dict[str, asyncio.Future[Ack]] = {}
        self._sent = 0

    async def close(self) -> None:
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Publish every message in order; raises `Stopped` at the first that fails."""
        if self._sub is None:
            self._inbox = self.nc.new_inbox()
            self._sub = await self.nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        sent = 0
        while sent < len(messages):
            if self.last_id is None:
                ack = await self._one(messages[sent], sent)
                if not ack.duplicate:
                    self.last_id = messages[sent].headers[MSG_ID]
                sent += 1
                continue
            sent = await self._windowed(messages, sent)

    async def _send(self, outgoing: Outgoing, after: str | None) -> asyncio.Future[Ack]:
        headers = {**outgoing.headers, Header.EXPECTED_STREAM: self.stream}
        if after is not None:
            headers[EXPECTED_LAST_MSG_ID] = after
        self._sent += 1
        reply = f"{self._inbox}.{self._sent}"
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._waiting[reply] = future
        future.add_done_callback(lambda _: self._waiting.pop(reply, None))
        await self.nc.publish(outgoing.subject, outgoing.body, reply=reply, headers=headers)
        return future

    async def _on_ack(self, msg: Msg) -> None:
        future = self._waiting.get(msg.subject)
        if future is None or future.done():
            return  # given up on (a timeout, a stop)
        if msg.headers and msg.headers.get(Header.STATUS) == NO_RESPONDERS:
            future.set_exception(NoStreamResponseError())
            return
        try:
            ack = _ack.decode(msg.data)
        except msgspec.DecodeError as error:
            future.set_exception(APIError(description=f"unreadable ack: {error}"))
            return
        if ack.error is None:
            future.set_result(ack)
            return
        try:
            APIError.from_error(ack.error)  # raises the error's own class
        except APIError as error:
            future.set_exception(error)

    async def _one(self, outgoing: Outgoing, index: int) -> Ack:
        try:
            future = await self._send(outgoing, None)
            return await asyncio.wait_for(future, self.ack_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise Stopped(index, error) from error

    async def _windowed(self, messages: Sequence[Outgoing], start: int) -> int:
        """Publish `messages[start:]`, each chained to the one before; returns how far it got."""
        assert self.last_id is not None
        after = self.last_id
        pending: deque[tuple[int, asyncio.Future[Ack], float]] = deque()
        index = start
        try:
            while index < len(messages) or pending:
                while index < len(messages) and len(pending) < self.window:
                    try:
                        future = await self._send(messages[index], after)
                    except asyncio.CancelledError:
                        raise
                    except Exception as error:
                        raise Stopped(pending[0][0] if pending else index, error) from error
                    pending.append((index, future, time.monotonic() + self.ack_timeout_s))
                    after = messages[index].headers[MSG_ID]
                    index += 1
                position, future, deadline = pending[0]
                try:
                    ack = await asyncio.wait_for(future, max(0.0, deadline - time.monotonic()))
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    raise Stopped(position, error) from error
                pending.popleft()
                if ack.duplicate:
                    # Stored before, maybe not last: the ones behind it may be refused; they
                    # go again one at a time.
                    self.last_id = None
                    return position + 1
                self.last_id = messages[position].headers[MSG_ID]
            return index
        except Stopped:
            self.last_id = None
            raise
        finally:
            for _, future, _ in pending:
                future.cancel()
