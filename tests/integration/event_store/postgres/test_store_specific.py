"""What only the PostgreSQL store has: a second pool of connections (another process), and
its per-stream-type size limits configured at construction."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from adapters.store import EventStore, EventTooLarge, NewEvent, StreamAppend
from adapters.store.commit_notes import parse
from domain.envelope import EventMetadata
from tests.helpers import unique_id


def started(n: int = 1) -> list[NewEvent]:
    return [NewEvent(type="RunStarted", data={"n": i}) for i in range(n)]


async def test_concurrent_appends_with_one_key_append_once(
    store: EventStore, store_url: str
) -> None:
    stream = unique_id("run-")
    key = EventMetadata(idempotency_key=unique_id("key-"))
    # A second store is a second pool of connections, as another process would have.
    async with EventStore(store_url, stream_types=store.stream_types) as other:
        results = await asyncio.gather(
            *(
                s.append(stream, "run", started(), expected_version=0, metadata=key)
                for s in [store, other] * 10
            )
        )

    assert len({r.event_ids for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert len(await store.read_stream(stream)) == 1


async def test_a_stream_type_can_have_its_own_size_limit(store_url: str) -> None:
    big = NewEvent(type="WebhookReceived", data={"payload": "x" * 200_000})
    async with EventStore(
        store_url,
        stream_types={"run", "delivery"},
        max_event_bytes=100_000,
        max_event_bytes_by_stream_type={"delivery": 300_000},
    ) as store:
        with pytest.raises(EventTooLarge):
            await store.append(unique_id("run-"), "run", [big], expected_version=0)
        result = await store.append(unique_id("d-"), "delivery", [big], expected_version=0)

    assert result.to_version == 1


async def test_a_batch_cap_splits_appends_into_commits_of_at_most_that_many(
    store_url: str,
) -> None:
    notes: list[str] = []
    listener = await asyncpg.connect(store_url)
    await listener.add_listener("flowledger_events", lambda *args: notes.append(args[3]))
    appends = [
        StreamAppend(
            stream_id=unique_id("run-"), stream_type="run", events=started(), expected_version=0
        )
        for _ in range(6)
    ]
    try:
        async with EventStore(store_url, stream_types={"run"}, max_batch_events=2) as store:
            outcomes = await store.append_many(appends)
        positions = {o.first_position for o in outcomes}  # type: ignore[union-attr]
        for _ in range(100):
            commits = [c for c in map(parse, notes) if c.first in positions or c.last in positions]
            if sum(c.last - c.first + 1 for c in commits) >= 6:
                break
            await asyncio.sleep(0.05)
    finally:
        await listener.close()

    # six one-event appends taken together, committed two at a time at most
    assert sorted(p for c in commits for p in range(c.first, c.last + 1)) == sorted(positions)
    assert len(commits) >= 3
    assert all(c.last - c.first + 1 <= 2 for c in commits)
