"""The global feed under writers in several processes: nothing skipped, nothing twice."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import uuid
from pathlib import Path

from adapters.store import EventStore, NewEvent
from tests.helpers import unique_id

REPO = Path(__file__).resolve().parents[4]

# Each writer process appends single events to fresh streams and fights over one shared
# stream, retrying on conflict, then prints the ids it wrote.
WRITER = textwrap.dedent(
    """
    import asyncio, json, sys, uuid
    from adapters.store import EventStore, NewEvent, WrongExpectedVersion

    async def main(url, hot, count):
        ids = []
        async with EventStore(url, stream_types={"run"}) as store:
            async def fresh():
                for _ in range(count):
                    r = await store.append(uuid.uuid4().hex, "run", [NewEvent(type="E", data={})],
                                           expected_version=0)
                    ids.extend(str(i) for i in r.event_ids)
            async def contend():
                for _ in range(count // 10):
                    while True:
                        version = await store.stream_version(hot)
                        try:
                            r = await store.append(hot, "run", [NewEvent(type="Hot", data={})],
                                                   expected_version=version)
                        except WrongExpectedVersion:
                            continue
                        ids.extend(str(i) for i in r.event_ids)
                        break
            await asyncio.gather(*(fresh() for _ in range(8)), contend())
        print(json.dumps(ids))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def follow(
    store: EventStore, after: int, expected: int, seen: list[tuple[int, uuid.UUID]]
) -> None:
    position = after
    while len(seen) < expected:
        batch = await store.read_all(after_position=position, limit=100)
        for envelope in batch:
            seen.append((envelope.position, envelope.event_id))
            position = envelope.position
        if not batch:
            await store.wait_beyond(position, timeout=1.0)


async def test_a_reader_sees_every_event_once_in_order_while_processes_append(
    store: EventStore, store_url: str
) -> None:
    hot = unique_id("hot-")
    start = await store.head_position()
    processes, per_writer_task = 3, 60
    per_process = 8 * per_writer_task + per_writer_task // 10
    in_process = 200
    expected = processes * per_process + in_process
    seen: list[tuple[int, uuid.UUID]] = []
    reader = asyncio.create_task(follow(store, start, expected, seen))

    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WRITER,
            store_url,
            hot,
            str(per_writer_task),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    local = await asyncio.gather(
        *(
            store.append(
                unique_id("run-"), "run", [NewEvent(type="E", data={})], expected_version=0
            )
            for _ in range(in_process)
        )
    )
    outputs = [await child.communicate() for child in children]
    assert [child.returncode for child in children] == [0] * processes, [
        o[1][-2000:] for o in outputs
    ]
    await asyncio.wait_for(reader, timeout=60)

    written = {uuid.UUID(i) for out, _ in outputs for i in json.loads(out)}
    written |= {i for r in local for i in r.event_ids}
    assert len(written) == expected
    positions = [p for p, _ in seen]
    assert positions == list(range(start + 1, start + expected + 1))
    assert {i for _, i in seen} == written
    # Reading the same range afresh gives the same sequence: nothing landed behind the reader.
    again = await store.read_all(after_position=start, limit=expected)
    assert [(e.position, e.event_id) for e in again] == seen
    hot_versions = [e.version for e in await store.read_stream(hot)]
    assert hot_versions == list(range(1, processes * (per_writer_task // 10) + 1))
