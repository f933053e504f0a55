"""Many streams' appends at once: each keeps its own expected version and idempotency key,
and succeeds or fails alone, on every store implementation."""

from __future__ import annotations

import asyncio

import pytest

from adapters.store import (
    AppendResult,
    EventStore,
    IdempotencyKeyReused,
    NewEvent,
    StreamAppend,
    UnknownStreamType,
    WrongExpectedVersion,
)
from domain.envelope import EventMetadata
from tests.helpers import unique_id


def requested(stream: str, expected: int = 0, key: str | None = None) -> StreamAppend:
    return StreamAppend(
        stream_id=stream,
        stream_type="run",
        events=[NewEvent(type="RunRequested", data={"stream": stream}),
                NewEvent(type="RunQueued", data={})],
        expected_version=expected,
        metadata=EventMetadata(actor="scheduler", idempotency_key=key),
    )  # fmt: skip


async def test_new_streams_are_each_written_in_order(store: EventStore) -> None:
    streams = [unique_id("run-") for _ in range(20)]

    outcomes = await store.append_many([requested(s) for s in streams])

    assert all(isinstance(o, AppendResult) for o in outcomes)
    assert [o.stream_id for o in outcomes] == streams  # type: ignore[union-attr]
    assert {(o.from_version, o.to_version) for o in outcomes} == {(1, 2)}  # type: ignore[union-attr]
    for stream in streams:
        events = await store.read_stream(stream)
        assert [(e.version, e.type, e.data) for e in events] == [
            (1, "RunRequested", {"stream": stream}),
            (2, "RunQueued", {}),
        ]
        assert events[0].metadata.actor == "scheduler"


async def test_a_stale_stream_is_refused_alone(store: EventStore) -> None:
    taken, fresh = unique_id("run-"), unique_id("run-")
    await store.append(taken, "run", [NewEvent(type="RunRequested", data={})], expected_version=0)

    stale, written = await store.append_many([requested(taken), requested(fresh)])

    assert isinstance(stale, WrongExpectedVersion)
    assert isinstance(written, AppendResult) and written.to_version == 2
    assert [e.type for e in await store.read_stream(taken)] == ["RunRequested"]
    assert len(await store.read_stream(fresh)) == 2


async def test_idempotency_keys_answer_per_append(store: EventStore) -> None:
    one, other = unique_id("run-"), unique_id("run-")
    key = unique_id("slot-")
    first = await store.append_many([requested(one, key=key)])

    again, reused = await store.append_many([requested(one, key=key), requested(other, key=key)])

    assert isinstance(again, AppendResult) and again.duplicate
    assert again.event_ids == first[0].event_ids  # type: ignore[union-attr]
    assert isinstance(reused, IdempotencyKeyReused)
    assert len(await store.read_stream(one)) == 2
    assert await store.read_stream(other) == []


async def test_one_stream_twice_follows_its_own_versions(store: EventStore) -> None:
    stream = unique_id("run-")

    outcomes = await store.append_many([requested(stream), requested(stream, expected=2)])

    assert [(o.from_version, o.to_version) for o in outcomes] == [(1, 2), (3, 4)]  # type: ignore[union-attr]


async def test_an_append_no_store_takes_writes_nothing(store: EventStore) -> None:
    fine = unique_id("run-")
    wrong = StreamAppend(
        stream_id=unique_id("x-"),
        stream_type="nonsense",
        events=[NewEvent(type="X", data={})],
        expected_version=0,
    )

    with pytest.raises(UnknownStreamType):
        await store.append_many([requested(fine), wrong])

    assert await store.read_stream(fine) == []


async def test_two_writers_racing_on_the_same_new_streams_write_each_once(
    store: EventStore,
) -> None:
    streams = [unique_id("run-") for _ in range(60)]

    async def writer(order: list[str]) -> list[object]:
        outcomes: list[object] = []
        for start in range(0, len(order), 10):
            outcomes += await store.append_many([requested(s) for s in order[start : start + 10]])
            await asyncio.sleep(0)
        return outcomes

    one, two = await asyncio.gather(writer(streams), writer(streams[::-1]))

    written = [o for o in one + two if isinstance(o, AppendResult)]
    refused = [o for o in one + two if isinstance(o, WrongExpectedVersion)]
    assert len(written) == len(streams) and len(refused) == len(streams)
    assert {o.stream_id for o in written} == set(streams)
    for stream in streams:
        assert [e.version for e in await store.read_stream(stream)] == [1, 2]
