"""The relay puts every event on JetStream in order, once, through restarts and outages."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path

import asyncpg
import msgspec
import nats

from adapters.platform.embedded import EmbeddedNats
from adapters.store import EventStore
from adapters.streaming.relay import Relay
from domain.envelope import EventEnvelope
from tests.integration.relay.relaying import (
    append,
    checkpoint,
    dead_url,
    read,
    running,
    start_at_head,
    unique_config,
    wait_checkpoint,
)


async def a_run(store: EventStore) -> tuple[str, str, str, int]:
    """A project, a pipeline and a run of three events: their ids and the last position."""
    project, pipeline, run = (str(uuid.uuid4()) for _ in range(3))
    await append(store, project, "project", ("ProjectCreated", {"name": "p"}))
    await append(store, pipeline, "pipeline", ("PipelineCreated", {"project_id": project}))
    last = await append(
        store,
        run,
        "run",
        ("RunRequested", {"project_id": project, "pipeline_id": pipeline}),
        ("RunStarted", {}),
        ("RunSucceeded", {}),
    )
    return project, pipeline, run, last


async def test_events_arrive_in_order_with_subject_headers_and_body(
    store: EventStore, database_url: str, nats_url: str
) -> None:
    config = unique_config()
    await start_at_head(database_url, config)
    async with running(Relay(database_url, nats_url, config)):
        project, pipeline, run, last = await a_run(store)
        await wait_checkpoint(database_url, config.stream, last)

    p = config.prefix
    messages = await read(nats_url, f"{p}.*.*.run.{run}.*")
    assert [m.subject for m in messages] == [
        f"{p}.{project}.{pipeline}.run.{run}.{t}"
        for t in ("RunRequested", "RunStarted", "RunSucceeded")
    ]
    stored = await store.read_stream(run)
    for message, envelope in zip(messages, stored, strict=True):
        assert msgspec.json.decode(message.data, type=EventEnvelope) == envelope
        assert message.headers["Nats-Msg-Id"] == str(envelope.event_id)
        assert message.headers["Flowledger-Position"] == str(envelope.position)
        assert message.headers["traceparent"] == envelope.metadata.traceparent
    assert len(await read(nats_url, f"{p}.*.{pipeline}.>")) == 4
    assert len(await read(nats_url, f"{p}.{project}.>")) == 5
    started = await read(nats_url, f"{p}.*.*.*.*.RunStarted")
    assert [m.subject.split(".")[-2] for m in started] == [run]
    everything = await read(nats_url, f"{p}.>")
    positions = [int(m.headers["Flowledger-Position"]) for m in everything]
    assert positions == sorted(positions) and len(positions) == 5


async def test_the_stream_is_configured_from_settings(database_url: str, nats_url: str) -> None:
    config = unique_config()
    await start_at_head(database_url, config)
    async with running(Relay(database_url, nats_url, config)) as relay:
        await asyncio.wait_for(relay.active.wait(), 10)
        await asyncio.sleep(0.5)
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(config.stream)
    finally:
        await nc.close()
    assert info.config.subjects == [f"{config.prefix}.>"]
    assert info.config.max_age == config.max_age_s
    assert info.config.duplicate_window == config.duplicate_window_s
    assert info.config.num_replicas == 1


async def test_a_restart_resumes_without_duplicates(
    store: EventStore, database_url: str, nats_url: str
) -> None:
    config = unique_config()
    await start_at_head(database_url, config)
    async with running(Relay(database_url, nats_url, config)):
        _, _, run, last = await a_run(store)
        await wait_checkpoint(database_url, config.stream, last)
    more = await append(store, run, "run", ("LogTruncated", {}), ("LogTruncated", {}))
    # As if killed between publishing and checkpointing: the last run events go out again.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE relay_checkpoints SET position = $2 WHERE name = $1", config.stream, last - 2
        )
    finally:
        await conn.close()
    async with running(Relay(database_url, nats_url, config)) as relay:
        await wait_checkpoint(database_url, config.stream, more)
        assert relay.published == 4  # two republished, two new

    messages = await read(nats_url, f"{config.prefix}.*.*.run.{run}.*")
    stored = await store.read_stream(run)
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [str(e.event_id) for e in stored]
    assert len(stored) == 5


async def test_nothing_is_lost_while_nats_is_down(
    store: EventStore, database_url: str, nats_url: str
) -> None:
    config = unique_config()
    start = await start_at_head(database_url, config)
    async with running(Relay(database_url, dead_url(), config)) as relay:
        await asyncio.wait_for(relay.active.wait(), 10)
        _, _, run, last = await a_run(store)  # commands keep working
        await asyncio.sleep(1)
        assert await checkpoint(database_url, config.stream) == start

    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-test-"))
    server = EmbeddedNats(data_dir)
    try:
        url = await asyncio.to_thread(server.start)
        async with running(Relay(database_url, url, config)):
            await wait_checkpoint(database_url, config.stream, last)
        messages = await read(url, f"{config.prefix}.>")
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
    positions = [int(m.headers["Flowledger-Position"]) for m in messages]
    assert positions == list(range(start + 1, last + 1))
    assert messages[-1].subject.endswith(f".run.{run}.RunSucceeded")


async def test_a_second_relay_waits_then_takes_over(
    store: EventStore, database_url: str, nats_url: str
) -> None:
    config = unique_config()
    await start_at_head(database_url, config)
    first = Relay(database_url, nats_url, config)
    second = Relay(database_url, nats_url, config)
    stop_first = asyncio.Event()
    first_task = asyncio.create_task(first.run(stop_first))
    await asyncio.wait_for(first.active.wait(), 10)
    async with running(second):
        await asyncio.sleep(1.5)  # a lock poll or more
        assert not second.active.is_set()
        _, _, run, last = await a_run(store)
        await wait_checkpoint(database_url, config.stream, last)
        stop_first.set()
        await asyncio.wait_for(first_task, 20)
        await asyncio.wait_for(second.active.wait(), 10)
        more = await append(store, run, "run", ("LogTruncated", {}))
        await wait_checkpoint(database_url, config.stream, more)
    assert first.published == 5 and second.published == 1
    assert len(await read(nats_url, f"{config.prefix}.*.*.run.{run}.*")) == 4
