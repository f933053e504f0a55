"""One subscription's deliveries, in position order, from its durable JetStream consumer.

The consumer (`outbound-<subscription id>`, filtered on its project's subjects) keeps how far
the subscription got, so a restart resumes after the last event acknowledged. At most one
message is outstanding (`max_ack_pending=1`): the next event is handed over only once this
one is delivered or parked, which is what keeps a subscription's deliveries in order. Each
acknowledgement waits for the server's confirmation: a pull asked for before the server has
taken the previous one's ack would find the one slot still taken and wait out its expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from uuid import UUID

import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from adapters.outbound.delivery import Live, Message, Outbound, deliver, disable, park
from adapters.streaming.relay import message as relay_message
from adapters.streaming.relay.subjects import filter_subject
from domain.errors import DomainError
from domain.subscription import wanted

log = logging.getLogger(__name__)

FETCH_WAIT_S = 1.0
ACK_CONFIRM_S = 5.0
START_SLACK = timedelta(minutes=1)
"""How much earlier than its creation a consumer starts reading: NATS stamps a message when the
relay publishes it, which may be later than the event was recorded (a relay behind) or, with
clocks apart, earlier. The creation event's position is the exact cut; the time only seeks."""
ACK_WAIT_S = 30.0
"""A message not acknowledged (nor kept alive) this long goes out again: after a crash."""


class _Head(msgspec.Struct, frozen=True):
    event_id: str
    stream_id: str
    version: int
    type: str
    recorded_at: str


ENDS = frozenset({"SubscriptionDisabled", "SubscriptionDeleted"})
"""A subscription's own events that end its deliveries, exactly where they stand."""


HEAD = msgspec.json.Decoder(_Head)


CONSUMER_PREFIX = "outbound-"


def consumer_name(sub_id: object) -> str:
    return f"{CONSUMER_PREFIX}{sub_id}"


async def consumed(js: JetStreamContext, stream: str) -> set[UUID]:
    """The subscriptions with a consumer on `stream`: every one a deliverer has started."""
    found = set()
    for info in await js.consumers_info(stream):
        name = info.name or ""
        with contextlib.suppress(ValueError):
            found.add(UUID(name.removeprefix(CONSUMER_PREFIX)))
    return found


def body_of(msg_data: bytes, head: _Head) -> bytes:
    """Standard Webhooks' payload shape: `type`, `timestamp`, and the event envelope as `data`."""
    prefix = msgspec.json.encode({"type": head.type, "timestamp": head.recorded_at})
    return prefix[:-1] + b',"data":' + msg_data + b"}"


class Worker:
    def __init__(
        self, out: Outbound, sub: Live, js: JetStreamContext, stream: str, prefix: str
    ) -> None:
        self.out, self.sub, self.js = out, sub, js
        self.stream, self.prefix = stream, prefix
        self.stop = asyncio.Event()
        self.delivered = 0
        self.parked_in_a_row = 0

    async def open(self) -> None:
        """Create (or find) the subscription's durable consumer: from here on nothing is lost."""
        subject = filter_subject(self.prefix, project=str(self.sub.project_id))
        # Its own events too (their subjects name no project): disabling and deleting it end
        # its deliveries exactly where they stand in the stream.
        own = filter_subject(self.prefix, stream_type="subscription", stream_id=str(self.sub.id))
        config = ConsumerConfig(
            durable_name=consumer_name(self.sub.id),
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=self.sub.created_at - START_SLACK,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_S,
            max_ack_pending=1,
            max_deliver=-1,
            filter_subjects=[subject, own],
        )
        self.psub = await self.js.pull_subscribe(
            "", durable=consumer_name(self.sub.id), stream=self.stream, config=config
        )

    async def run(self) -> None:
        floor = self.sub.created_position
        try:
            while not self.stop.is_set():
                try:
                    msgs = await self.psub.fetch(1, timeout=FETCH_WAIT_S)
                except TimeoutError:  # nats-py raises either kind when nothing came
                    continue
                for msg in msgs:
                    if self.stop.is_set():
                        with contextlib.suppress(Exception):
                            await msg.nak()
                        return
                    done = await self._handle(msg, floor)
                    if done is None:
                        return
                    floor = done
        finally:
            with contextlib.suppress(Exception):
                await self.psub.unsubscribe()

    async def _handle(self, msg: Msg, floor: int) -> int | None:
        """The new floor once `msg` is settled; None: stop (left for the next run)."""
        position = int((msg.headers or {}).get(relay_message.POSITION, "0"))
        if position <= floor:
            await _settle(msg)  # a redelivery of what was settled: at most once past the floor
            return floor
        head = HEAD.decode(msg.data)
        if head.stream_id == str(self.sub.id):
            # Its own events are not sent to it (a parked delivery would beget another).
            await _settle(msg)
            if head.type in ENDS and head.version > self.sub.version:  # not an older one
                self.stop.set()
                return None
            return position
        if not wanted(self.sub.event_types, head.type):
            await _settle(msg)
            return position
        message = Message(head.event_id, position, head.type, body_of(msg.data, head))
        settled = await deliver(self.out, self.sub, message, self.stop, msg.in_progress)
        if settled is None:
            with contextlib.suppress(Exception):
                await msg.nak()
            return None
        answer, tries = settled
        if answer.ok:
            self.parked_in_a_row = 0
            self.delivered += 1
        else:
            await park(self.out, self.sub, message, answer, tries)
            self.parked_in_a_row += 1
        await _settle(msg)
        if self.parked_in_a_row >= self.out.disable_after_parked:
            reason = (
                f"{self.parked_in_a_row} deliveries in a row parked after their retries; "
                f"last: {answer.error or 'no answer'}"
            )
            with contextlib.suppress(DomainError):
                await disable(self.out, self.sub, reason)
            return None
        return position


async def _settle(msg: Msg) -> None:
    """Acknowledge, waiting (boundedly) for the server to have it. A confirmation that never
    comes leaves at worst a redelivery, which the floor skips."""
    with contextlib.suppress(TimeoutError):
        await msg.ack_sync(timeout=ACK_CONFIRM_S)


async def forget_consumer(js: JetStreamContext, stream: str, sub_id: object) -> None:
    """A deleted subscription's consumer goes with it."""
    with contextlib.suppress(NotFoundError):
        await js.delete_consumer(stream, consumer_name(sub_id))
