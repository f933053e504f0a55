"""The deliverer's control consumer: the subscriptions' own events, read from the relay's stream.

Durable (`outbound-control`), so a subscription created, disabled, deleted or a re-send asked
for while no deliverer ran is acted on when one returns.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from adapters.streaming.relay.subjects import filter_subject

CONTROL = "outbound-control"
STREAM_WAIT_S = 1.0


class ControlEvent(msgspec.Struct, frozen=True):
    stream_id: str
    type: str
    data: dict


decode_control = msgspec.json.Decoder(ControlEvent).decode


async def open_control(
    js: JetStreamContext, stream: str, prefix: str, stop: asyncio.Event
) -> tuple[JetStreamContext.PullSubscription, int | None] | None:
    """The control consumer, and, when it was made now, the stream sequence up to which
    re-sends are history (None when it existed: the sequence found when it was made holds).

    Made the first time from the stream's start, so that no subscription created before any
    deliverer ran is missed; re-sends asked for before it was made are history, not work.
    None when `stop` is set while the stream does not exist yet.
    """
    subject = filter_subject(prefix, stream_type="subscription")
    config = ConsumerConfig(
        durable_name=CONTROL,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=60,
        filter_subject=subject,
    )
    while not stop.is_set():
        resends_after: int | None = None
        try:
            try:
                await js.consumer_info(stream, CONTROL)
            except nats.js.errors.NotFoundError:
                resends_after = (await js.stream_info(stream)).state.last_seq
            subscription = await js.pull_subscribe(
                subject, durable=CONTROL, stream=stream, config=config
            )
            return subscription, resends_after
        except nats.js.errors.NotFoundError:
            # No stream before the relay's first run: wait for it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STREAM_WAIT_S)
    return None
