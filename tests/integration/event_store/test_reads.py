"""Reading: one stream, the global feed, the hash chain, and waiting for what comes next."""

from __future__ import annotations

import asyncio

import msgspec

from adapters.store import EventStore, NewEvent
from adapters.store.encoding import GENESIS_HASH, canonical_bytes, chain_hash, encode_metadata
from domain.envelope import EventEnvelope, EventMetadata
from tests.helpers import unique_id


def recompute_chain(events: list[EventEnvelope]) -> list[str]:
    """What an auditor does: rebuild every hash from the envelope's own fields."""
    encoder = msgspec.json.Encoder(order="sorted")
    prev = GENESIS_HASH
    hashes = []
    for e in events:
        prev = chain_hash(
            prev,
            canonical_bytes(
                event_id=e.event_id,
                stream_id=e.stream_id,
                stream_type=e.stream_type,
                version=e.version,
                type=e.type,
                schema_version=e.schema_version,
                recorded_at=e.recorded_at,
                data=encoder.encode(e.data),
                metadata=encode_metadata(e.metadata),
            ),
        )
        hashes.append(prev.hex())
    return hashes


async def test_read_stream_from_and_to_a_version(store: EventStore) -> None:
    stream = unique_id("run-")
    await store.append(
        stream, "run", [NewEvent(type="E", data={"i": i}) for i in range(5)], expected_version=0
    )

    assert [e.version for e in await store.read_stream(stream, from_version=3)] == [3, 4, 5]
    assert [e.version for e in await store.read_stream(stream, from_version=2, to_version=3)] == [
        2,
        3,
    ]
    assert await store.read_stream(unique_id("unknown-")) == []


async def test_each_stream_is_a_hash_chain_an_auditor_can_recompute(store: EventStore) -> None:
    stream = unique_id("run-")
    data = {"z": [1, 2.5, None, True], "a": {"nested": "ünïcode ✓"}, "big": 2**62}
    await store.append(
        stream,
        "run",
        [NewEvent(type="E", data=data)] * 3,
        expected_version=0,
        metadata=EventMetadata(actor="bob", traceparent="00-ab-cd-01"),
    )
    await store.append(stream, "run", [NewEvent(type="F", data={})], expected_version=3)

    events = await store.read_stream(stream)

    assert [e.hash for e in events] == recompute_chain(events)
    assert len({e.hash for e in events}) == 4


async def test_altering_removing_or_reordering_an_event_breaks_the_chain(store: EventStore) -> None:
    stream = unique_id("run-")
    await store.append(
        stream, "run", [NewEvent(type="E", data={"i": i}) for i in range(3)], expected_version=0
    )
    events = await store.read_stream(stream)
    stored = [e.hash for e in events]

    altered = [events[0], msgspec.structs.replace(events[1], data={"i": 99}), events[2]]
    removed = [events[0], events[2]]
    reordered = [events[1], events[0], events[2]]

    for tampered in (altered, removed, reordered):
        assert recompute_chain(tampered) != stored[: len(tampered)]


async def test_the_global_feed_is_read_in_position_order_in_batches(store: EventStore) -> None:
    start = await store.head_position()
    for _ in range(3):
        await store.append(
            unique_id("run-"), "run", [NewEvent(type="E", data={})] * 4, expected_version=0
        )

    seen: list[int] = []
    position = start
    while batch := await store.read_all(after_position=position, limit=5):
        assert len(batch) <= 5
        seen += [e.position for e in batch]
        position = batch[-1].position

    assert seen == list(range(start + 1, start + 13))


async def test_a_range_reads_between_two_positions_of_the_types_asked(store: EventStore) -> None:
    start = await store.head_position()
    await store.append(
        unique_id("run-"),
        "run",
        [NewEvent(type=t, data={"i": i}) for i, t in enumerate("EFE")],
        expected_version=0,
    )
    upto = await store.head_position()

    assert [e.type for e in await store.read_range(start, upto)] == ["E", "F", "E"]
    assert [e.data["i"] for e in await store.read_range(start, upto, {"E"})] == [0, 2]
    assert [e.position for e in await store.read_range(start + 1, upto - 1)] == [start + 2]
    assert await store.read_range(start, upto, set()) == []


async def test_a_range_is_upcast_while_a_stream_reads_as_stored(store: EventStore) -> None:
    # `ProjectCreated` is at schema 2; this is how a deployment before `description` wrote it.
    v1 = {"name": "Legacy", "slug": unique_id("legacy-"), "occurred_at": "2025-06-01T09:30:00Z"}
    written = await store.append(
        unique_id("project-"),
        "project",
        [NewEvent(type="ProjectCreated", data=v1, schema_version=1)],
        expected_version=0,
    )

    [read] = await store.read_range(written.first_position - 1, written.last_position)
    [stored] = await store.read_stream(written.stream_id)

    assert (read.schema_version, read.stored_schema_version, read.data["description"]) == (2, 1, "")
    assert (stored.schema_version, stored.stored_schema_version, stored.data) == (1, None, v1)
    assert stored.hash == recompute_chain([stored])[0]


async def test_a_waiting_reader_wakes_when_an_event_commits(store: EventStore) -> None:
    head = await store.head_position()
    waiter = asyncio.create_task(store.wait_beyond(head, timeout=30))
    await asyncio.sleep(0.2)
    assert not waiter.done()

    result = await store.append(
        unique_id("run-"), "run", [NewEvent(type="E", data={})], expected_version=0
    )

    assert await asyncio.wait_for(waiter, timeout=10) >= result.last_position


async def test_subscribe_catches_up_then_follows_live_events(store: EventStore) -> None:
    head = await store.head_position()
    first = await store.append(
        unique_id("run-"), "run", [NewEvent(type="E", data={})] * 2, expected_version=0
    )
    received: list[int] = []

    async def follow() -> None:
        async for envelope in store.subscribe(after_position=head):
            received.append(envelope.position)
            if len(received) == 4:
                return

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.2)
    second = await store.append(
        unique_id("run-"), "run", [NewEvent(type="E", data={})] * 2, expected_version=0
    )
    await asyncio.wait_for(follower, timeout=10)

    assert received == [
        first.first_position,
        first.last_position,
        second.first_position,
        second.last_position,
    ]
