"""Tasks contending on one stream: optimistic concurrency loses no update."""

from __future__ import annotations

import asyncio

from adapters.store import EventStore, NewEvent, WrongExpectedVersion
from tests.helpers import unique_id


async def test_contending_tasks_on_one_stream_never_lose_an_update(store: EventStore) -> None:
    stream = unique_id("run-")

    async def increment() -> None:
        while True:
            version = await store.stream_version(stream)
            try:
                await store.append(
                    stream, "run", [NewEvent(type="Inc", data={})], expected_version=version
                )
                return
            except WrongExpectedVersion:
                await asyncio.sleep(0)

    await asyncio.gather(*(increment() for _ in range(30)))

    assert [e.version for e in await store.read_stream(stream)] == list(range(1, 31))
