"""The relay's pipelined publisher on the real NATS: many acks awaited at once, stream order kept.

JetStream's documented headers (docs.nats.io, "JetStream Model Deep Dive", Publish
Expectations / Message Deduplication): `Nats-Msg-Id` drops a second copy within the duplicate
window, `Nats-Expected-Last-Msg-Id` refuses a message unless the stream's last message has
the id given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
import pytest_asyncio
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from adapters.streaming.relay.message import MSG_ID
from adapters.streaming.relay.pipeline import Outgoing, Pipeline, Stopped
from tests.integration.relay.relaying import unique_config


@pytest_asyncio.fixture
async def stream(nats_url: str) -> AsyncIterator[tuple[JetStreamContext, str, str]]:
    config = unique_config()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(
        StreamConfig(
            name=config.stream,
            subjects=[f"{config.prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=60.0,
        )
    )
    try:
        yield js, config.stream, config.prefix
    finally:
        await js.delete_stream(config.stream)
        await nc.close()


def messages(prefix: str, count: int, start: int = 0) -> list[Outgoing]:
    return [
        Outgoing(f"{prefix}.m{i}", f"body {i}".encode(), {MSG_ID: f"id-{i}"})
        for i in range(start, start + count)
    ]


async def stored(js: JetStreamContext, stream: str) -> list[str]:
    """Every message id on the stream, in stream order."""
    info = await js.stream_info(stream)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg(stream, seq)
        found.append((message.headers or {})[MSG_ID])
    return found


async def test_many_in_flight_arrive_once_each_in_order(stream) -> None:
    js, name, prefix = stream
    pipeline = Pipeline(js._nc, name, window=64, ack_timeout_s=5)
    await pipeline.publish(messages(prefix, 200))
    await pipeline.publish(messages(prefix, 300, start=200))
    assert await stored(js, name) == [f"id-{i}" for i in range(500)]
    assert pipeline.last_id == "id-499"


async def test_a_resume_over_what_was_stored_before_adds_only_the_rest(stream) -> None:
    """A relay killed after publishing, before its checkpoint: its successor republishes."""
    js, name, prefix = stream
    for outgoing in messages(prefix, 30):
        await js.publish(outgoing.subject, outgoing.body, headers=dict(outgoing.headers))
    pipeline = Pipeline(js._nc, name, window=16, ack_timeout_s=5)
    await pipeline.publish(messages(prefix, 100))
    assert await stored(js, name) == [f"id-{i}" for i in range(100)]


async def test_a_duplicate_inside_the_window_sends_the_rest_again_in_order(stream) -> None:
    js, name, prefix = stream
    pipeline = Pipeline(js._nc, name, window=16, ack_timeout_s=5)
    await pipeline.publish(messages(prefix, 10))
    # Positions 5 to 9 again, as after an ack lost mid-batch, while the sequence is known.
    await pipeline.publish(messages(prefix, 40, start=5))
    assert await stored(js, name) == [f"id-{i}" for i in range(45)]
    assert pipeline.last_id == "id-44"


async def test_a_stream_moved_by_someone_else_stops_the_window_and_nothing_lands_out_of_order(
    stream,
) -> None:
    js, name, prefix = stream
    pipeline = Pipeline(js._nc, name, window=16, ack_timeout_s=5)
    await pipeline.publish(messages(prefix, 10))
    await js.publish(f"{prefix}.other", b"someone else", headers={MSG_ID: "other"})
    batch = messages(prefix, 50, start=10)
    with pytest.raises(Stopped) as stopped:
        await pipeline.publish(batch)
    assert stopped.value.acked == 0
    assert "wrong last msg id" in str(stopped.value).lower()
    assert pipeline.last_id is None
    await pipeline.publish(batch[stopped.value.acked :])
    assert await stored(js, name) == [
        *(f"id-{i}" for i in range(10)),
        "other",
        *(f"id-{i}" for i in range(10, 60)),
    ]


async def test_a_refused_message_stops_every_one_behind_it(stream) -> None:
    """Message 20 is over the stream's size limit: 21 to 59, already sent, must not land."""
    js, name, prefix = stream
    config = (await js.stream_info(name)).config
    config.max_msg_size = 1024
    await js.update_stream(config)
    batch = messages(prefix, 60)
    batch[20] = batch[20]._replace(body=b"x" * 2048)
    pipeline = Pipeline(js._nc, name, window=64, ack_timeout_s=5)
    await pipeline.publish(batch[:1])  # the chain starts from a known last message
    with pytest.raises(Stopped) as stopped:
        await pipeline.publish(batch[1:])
    assert stopped.value.acked == 19
    assert await stored(js, name) == [f"id-{i}" for i in range(20)]
