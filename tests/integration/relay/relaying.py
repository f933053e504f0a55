"""Test helpers: a relay running in a task, events to append, a JetStream reader, own NATS."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout

from adapters.platform.embedded import EmbeddedNats
from adapters.platform.embedded._process import free_port
from adapters.store import EventStore, NewEvent
from adapters.streaming.relay import Relay, RelayConfig
from domain.envelope import EventMetadata


def unique_config() -> RelayConfig:
    """A stream and prefix of its own, so tests don't collide on the shared NATS."""
    tag = uuid.uuid4().hex[:10]
    return RelayConfig(stream=f"T_{tag}", prefix=f"t{tag}.events", duplicate_window_s=60)


async def start_at_head(database_url: str, config: RelayConfig) -> int:
    """Seed the checkpoint at the head: the session's earlier events are not this test's."""
    conn = await asyncpg.connect(database_url)
    try:
        head = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
        await conn.execute(
            "INSERT INTO relay_checkpoints (name, position) VALUES ($1, $2)", config.stream, head
        )
        return head
    finally:
        await conn.close()


async def checkpoint(database_url: str, name: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SELECT position FROM relay_checkpoints WHERE name = $1", name)
    finally:
        await conn.close()


async def wait_checkpoint(database_url: str, name: str, position: int, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await checkpoint(database_url, name) >= position:
                return
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[Relay]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield relay
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def append(
    store: EventStore, stream_id: str, stream_type: str, *types_data: tuple[str, dict[str, Any]]
) -> int:
    """Append events to a stream (after those it has); return the last position."""
    version = await store.stream_version(stream_id)
    result = await store.append(
        stream_id,
        stream_type,
        [NewEvent(type=t, data=d) for t, d in types_data],
        expected_version=version,
        metadata=EventMetadata(
            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        ),
    )
    return result.last_position


async def read(nats_url: str, subject: str, idle: float = 1.0) -> list[Msg]:
    """Every message on `subject`, from the start of its stream, until it is idle."""
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
        found = []
        while True:
            try:
                found.append(await sub.next_msg(timeout=idle))
            except NatsTimeout:
                return found
    finally:
        await nc.close()


def dead_url() -> str:
    """A NATS URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"nats://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def own_nats() -> AsyncIterator[EmbeddedNats]:
    """A NATS server process of the test's own, on a fixed port so a restart keeps its URL."""
    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-test-"))
    server = EmbeddedNats(data_dir, port=free_port())
    try:
        await asyncio.to_thread(server.start)
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)


async def events_between(database_url: str, after: int, last: int) -> list[asyncpg.Record]:
    """(position, event_id, stream_id, version) of every stored event in (after, last]."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT position, event_id, stream_id, version FROM events "
            "WHERE position > $1 AND position <= $2 ORDER BY position",
            after,
            last,
        )
    finally:
        await conn.close()
