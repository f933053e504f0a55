"""Appending: versions, positions, optimistic concurrency, idempotency, and what gets refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from adapters.store import (
    EventStore,
    EventTooLarge,
    IdempotencyKeyReused,
    InvalidAppend,
    NewEvent,
    UnencodableEvent,
    UnknownStreamType,
    WrongExpectedVersion,
)
from domain.envelope import EventMetadata
from tests.helpers import unique_id


def started(n: int = 1) -> list[NewEvent]:
    return [NewEvent(type="RunStarted", data={"n": i}) for i in range(n)]


async def test_first_append_starts_the_stream_at_version_one(store: EventStore) -> None:
    stream = unique_id("run-")
    before = datetime.now(UTC)

    result = await store.append(
        stream,
        "run",
        started(3),
        expected_version=0,
        metadata=EventMetadata(actor="alice", correlation_id="c-1"),
    )

    assert (result.from_version, result.to_version) == (1, 3)
    assert result.last_position - result.first_position == 2
    assert not result.duplicate
    events = await store.read_stream(stream)
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.position for e in events] == list(
        range(result.first_position, result.last_position + 1)
    )
    assert [e.event_id for e in events] == list(result.event_ids)
    first = events[0]
    assert (first.stream_id, first.stream_type, first.type, first.schema_version) == (
        stream,
        "run",
        "RunStarted",
        1,
    )
    assert first.data == {"n": 0}
    assert first.metadata == EventMetadata(actor="alice", correlation_id="c-1")
    assert (
        before - timedelta(seconds=5)
        <= first.recorded_at
        <= datetime.now(UTC) + timedelta(seconds=5)
    )
    assert len(bytes.fromhex(first.hash)) == 32


async def test_next_append_continues_from_the_stated_version(store: EventStore) -> None:
    stream = unique_id("run-")
    await store.append(stream, "run", started(2), expected_version=0)

    result = await store.append(stream, "run", started(1), expected_version=2)

    assert (result.from_version, result.to_version) == (3, 3)
    assert await store.stream_version(stream) == 3


async def test_a_stale_expected_version_conflicts_and_writes_nothing(store: EventStore) -> None:
    stream = unique_id("run-")
    await store.append(stream, "run", started(2), expected_version=0)
    head = await store.head_position()

    with pytest.raises(WrongExpectedVersion) as caught:
        await store.append(stream, "run", started(1), expected_version=1)

    assert (caught.value.expected, caught.value.actual) == (1, 2)
    with pytest.raises(WrongExpectedVersion):
        await store.append(stream, "run", started(1), expected_version=0)
    assert len(await store.read_stream(stream)) == 2
    assert await store.head_position() == head


async def test_expecting_a_version_of_a_stream_that_does_not_exist_conflicts(
    store: EventStore,
) -> None:
    with pytest.raises(WrongExpectedVersion) as caught:
        await store.append(unique_id("run-"), "run", started(), expected_version=4)
    assert caught.value.actual == 0


async def test_concurrent_writers_to_one_stream_exactly_one_wins_each_version(
    store: EventStore,
) -> None:
    stream = unique_id("run-")
    await store.append(stream, "run", started(), expected_version=0)

    outcomes = await asyncio.gather(
        *(store.append(stream, "run", started(), expected_version=1) for _ in range(20)),
        return_exceptions=True,
    )

    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(
        isinstance(o, WrongExpectedVersion) for o in outcomes if isinstance(o, BaseException)
    )
    assert [e.version for e in await store.read_stream(stream)] == [1, 2]


async def test_a_repeated_idempotency_key_returns_the_first_result_and_appends_nothing(
    store: EventStore,
) -> None:
    stream = unique_id("run-")
    key = EventMetadata(idempotency_key=unique_id("key-"))
    first = await store.append(stream, "run", started(2), expected_version=0, metadata=key)

    again = await store.append(stream, "run", started(2), expected_version=0, metadata=key)

    assert again.duplicate
    assert (again.first_position, again.last_position, again.event_ids) == (
        first.first_position,
        first.last_position,
        first.event_ids,
    )
    assert len(await store.read_stream(stream)) == 2


async def test_a_key_reused_for_another_stream_is_refused(store: EventStore) -> None:
    key = EventMetadata(idempotency_key=unique_id("key-"))
    await store.append(unique_id("run-"), "run", started(), expected_version=0, metadata=key)
    other = unique_id("run-")

    with pytest.raises(IdempotencyKeyReused):
        await store.append(other, "run", started(), expected_version=0, metadata=key)
    assert await store.read_stream(other) == []


async def test_one_bad_append_in_a_batch_does_not_sink_its_neighbours(store: EventStore) -> None:
    taken = unique_id("run-")
    await store.append(taken, "run", started(), expected_version=0)
    fresh = [unique_id("run-") for _ in range(10)]

    outcomes = await asyncio.gather(
        store.append(taken, "run", started(), expected_version=0),
        *(store.append(s, "run", started(), expected_version=0) for s in fresh),
        return_exceptions=True,
    )

    assert isinstance(outcomes[0], WrongExpectedVersion)
    assert all(not isinstance(o, BaseException) for o in outcomes[1:])


async def test_a_stream_keeps_its_type(store: EventStore) -> None:
    stream = unique_id("x-")
    await store.append(stream, "run", started(), expected_version=0)
    with pytest.raises(InvalidAppend, match="is a 'run' stream"):
        await store.append(stream, "pipeline", started(), expected_version=1)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"stream_type": "spaceship"}, UnknownStreamType),
        ({"expected_version": -1}, InvalidAppend),
        ({"expected_version": 1.0}, InvalidAppend),
        ({"expected_version": True}, InvalidAppend),
        ({"expected_version": "0"}, InvalidAppend),
        ({"stream_id": ""}, InvalidAppend),
        ({"stream_id": "x" * 201}, InvalidAppend),
        ({"events": []}, InvalidAppend),
        ({"events": [{"type": "RunStarted"}]}, InvalidAppend),
        ({"events": [NewEvent(type="", data={})]}, InvalidAppend),
        ({"events": [NewEvent(type="RunStarted", data={}, schema_version=0)]}, InvalidAppend),
        ({"events": [NewEvent(type="RunStarted", data={"blob": "x" * 70_000})]}, EventTooLarge),
        ({"events": [NewEvent(type="RunStarted", data={"what": object()})]}, UnencodableEvent),
        ({"events": [NewEvent(type="RunStarted", data=[1, 2])]}, UnencodableEvent),
        ({"events": [NewEvent(type="RunStarted", data={"nul": "a\x00b"})]}, UnencodableEvent),
        (
            {"events": [NewEvent(type="RunStarted", data={"kept": msgspec.Raw(b'{\n"a": 1}')})]},
            UnencodableEvent,
        ),
        ({"metadata": EventMetadata(idempotency_key="")}, InvalidAppend),
        ({"metadata": {"actor": "x"}}, InvalidAppend),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, type) else ",".join(v),
)
async def test_bad_input_is_refused_before_anything_is_written(
    store: EventStore, change: dict, error: type[Exception]
) -> None:
    append = {
        "stream_id": unique_id("run-"),
        "stream_type": "run",
        "events": started(),
        "expected_version": 0,
        "metadata": EventMetadata(),
    } | change
    head = await store.head_position()

    with pytest.raises(error) as caught:
        await store.append(
            append["stream_id"],
            append["stream_type"],
            append["events"],
            expected_version=append["expected_version"],
            metadata=append["metadata"],
        )

    assert str(caught.value)
    assert await store.head_position() == head


async def test_the_text_of_a_nul_escape_is_not_a_nul(store: EventStore) -> None:
    raw_body = '{"note": "a\\u0000b"}'  # a webhook body that itself escapes a NUL

    result = await store.append(
        unique_id("run-"),
        "run",
        [NewEvent(type="E", data={"payload": raw_body})],
        expected_version=0,
    )

    [event] = await store.read_stream(result.stream_id)
    assert event.data["payload"] == raw_body
