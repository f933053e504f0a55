"""Read guards: an append names streams its decision only read, at the version read; if one of
them moved, nothing of that append is written and the error says which (`GuardMoved`, a
`WrongExpectedVersion` of its own kind). Judged alike by every store."""

from __future__ import annotations

import pytest

from adapters.store import (
    EventStore,
    GuardMoved,
    NewEvent,
    StreamAppend,
    WrongExpectedVersion,
)
from domain.envelope import EventMetadata
from tests.helpers import unique_id


def started(n: int = 1) -> list[NewEvent]:
    return [NewEvent(type="RunStarted", data={"n": i}) for i in range(n)]


async def read_stream_at(store: EventStore, version: int) -> str:
    """A pipeline stream at `version`: what a decision reads and does not change."""
    stream = unique_id("pipeline-")
    for at in range(version):
        await store.append(stream, "pipeline", started(), expected_version=at)
    return stream


async def test_an_append_whose_guards_are_unchanged_is_written(store: EventStore) -> None:
    read, other = await read_stream_at(store, 2), await read_stream_at(store, 1)
    stream = unique_id("run-")

    result = await store.append(
        stream, "run", started(2), expected_version=0, guards=[(read, 2), (other, 1)]
    )

    assert (result.from_version, result.to_version) == (1, 2)
    assert len(await store.read_stream(stream)) == 2


async def test_a_guard_on_a_stream_never_written_expects_version_zero(store: EventStore) -> None:
    absent = unique_id("pipeline-")
    stream = unique_id("run-")

    await store.append(stream, "run", started(), expected_version=0, guards=[(absent, 0)])
    with pytest.raises(GuardMoved):
        await store.append(stream, "run", started(), expected_version=1, guards=[(absent, 1)])

    assert len(await store.read_stream(stream)) == 1


async def test_a_moved_guard_writes_nothing_and_says_which_stream_moved(
    store: EventStore,
) -> None:
    read, unchanged = await read_stream_at(store, 1), await read_stream_at(store, 1)
    await store.append(read, "pipeline", started(), expected_version=1)  # moved to 2
    stream = unique_id("run-")

    with pytest.raises(GuardMoved) as moved:
        await store.append(
            stream, "run", started(), expected_version=0, guards=[(unchanged, 1), (read, 1)]
        )

    assert (moved.value.stream_id, moved.value.expected, moved.value.actual) == (read, 1, 2)
    assert isinstance(moved.value, WrongExpectedVersion), "a version conflict: nothing written"
    assert await store.read_stream(stream) == []
    assert await store.stream_version(read) == 2


async def test_the_append_s_own_conflict_answers_before_its_guards(store: EventStore) -> None:
    read = await read_stream_at(store, 2)
    stream = unique_id("run-")
    await store.append(stream, "run", started(), expected_version=0)

    with pytest.raises(WrongExpectedVersion) as conflict:
        await store.append(stream, "run", started(), expected_version=0, guards=[(read, 1)])

    assert type(conflict.value) is WrongExpectedVersion
    assert conflict.value.stream_id == stream


async def test_a_used_idempotency_key_replays_whatever_the_guards_say(store: EventStore) -> None:
    read = await read_stream_at(store, 1)
    stream, key = unique_id("run-"), unique_id("key-")
    meta = EventMetadata(idempotency_key=key)
    first = await store.append(
        stream, "run", started(), expected_version=0, metadata=meta, guards=[(read, 1)]
    )
    await store.append(read, "pipeline", started(), expected_version=1)

    again = await store.append(
        stream, "run", started(), expected_version=0, metadata=meta, guards=[(read, 1)]
    )

    assert again.duplicate and again.first_position == first.first_position


async def test_in_a_batch_each_append_is_judged_on_its_own_guards(store: EventStore) -> None:
    read, moved = await read_stream_at(store, 1), await read_stream_at(store, 1)
    await store.append(moved, "pipeline", started(), expected_version=1)
    kept, refused = unique_id("run-"), unique_id("run-")

    outcomes = await store.append_many(
        [
            StreamAppend(
                stream_id=kept,
                stream_type="run",
                events=started(),
                expected_version=0,
                guards=((read, 1),),
            ),
            StreamAppend(
                stream_id=refused,
                stream_type="run",
                events=started(),
                expected_version=0,
                guards=((read, 1), (moved, 1)),
            ),
        ]
    )

    assert outcomes[0].to_version == 1  # type: ignore[union-attr]
    assert isinstance(outcomes[1], GuardMoved) and outcomes[1].stream_id == moved
    assert await store.read_stream(refused) == []


async def test_a_guard_on_a_stream_an_earlier_append_of_the_batch_writes_has_moved(
    store: EventStore,
) -> None:
    # In global order the guarded decision would come after a change it did not see.
    read = await read_stream_at(store, 1)
    guarded = unique_id("run-")

    outcomes = await store.append_many(
        [
            StreamAppend(
                stream_id=read, stream_type="pipeline", events=started(), expected_version=1
            ),
            StreamAppend(
                stream_id=guarded,
                stream_type="run",
                events=started(),
                expected_version=0,
                guards=((read, 1),),
            ),
        ]
    )

    assert outcomes[0].to_version == 2  # type: ignore[union-attr]
    assert isinstance(outcomes[1], GuardMoved)
    assert await store.read_stream(guarded) == []
