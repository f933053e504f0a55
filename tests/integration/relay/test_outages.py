"""Real outages: the NATS server restarted mid-stream, the relay process killed mid-batch."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from uuid import UUID

import asyncpg
import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import StreamInfo

from adapters.platform.embedded import EmbeddedNats
from adapters.platform.services import Services
from adapters.streaming.relay import Relay, RelayConfig
from adapters.streaming.relay.subjects import DEFAULT_PREFIX
from commands.run_reports import LogChunk
from tests.integration.read_models.conftest import Driver
from tests.integration.relay.relaying import (
    checkpoint,
    events_between,
    own_nats,
    read,
    running,
    start_at_head,
    unique_config,
    wait_checkpoint,
)


class Producer:
    """Keeps commands coming, one log chunk per run in turn, until stopped."""

    def __init__(self, driver: Driver, runs: list[UUID]) -> None:
        self.driver = driver
        self.runs = runs
        self.accepted: list[int] = []
        """The position each accepted command answered with, in order."""
        self._more = asyncio.Condition()

    async def run(self, stop: asyncio.Event) -> None:
        for seq in itertools.count(1):
            for run in self.runs:
                result = await self.driver.logs(run, LogChunk(seq=seq, text=f"line {seq}"))
                assert result.position is not None
                async with self._more:
                    self.accepted.append(result.position)
                    self._more.notify_all()
            if stop.is_set():
                return
            await asyncio.sleep(0.01)

    async def wait_for(self, count: int) -> int:
        """Wait until `count` more commands were accepted; the position of the last one."""
        target = len(self.accepted) + count
        async with asyncio.timeout(60), self._more:
            await self._more.wait_for(lambda: len(self.accepted) >= target)
        return self.accepted[target - 1]


async def a_producer(driver: Driver, runs: int) -> Producer:
    project = await driver.project()
    pipeline = await driver.pipeline(project)
    return Producer(driver, [await driver.trigger(pipeline) for _ in range(runs)])


async def assert_each_event_once_in_order(
    messages: list[Msg], database_url: str, after: int, last: int
) -> None:
    """The stream holds exactly the stored events (after, last], in global and stream order."""
    stored = await events_between(database_url, after, last)
    assert [int(m.headers["Flowledger-Position"]) for m in messages] == [
        r["position"] for r in stored
    ]
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [str(r["event_id"]) for r in stored]
    versions: dict[str, list[int]] = defaultdict(list)
    for message, row in zip(messages, stored, strict=True):
        assert message.subject.split(".")[-2] == row["stream_id"]
        versions[row["stream_id"]].append(row["version"])
    for found in versions.values():
        assert found == list(range(found[0], found[0] + len(found)))


async def go_down(server: EmbeddedNats, how: str) -> None:
    if how == "killed":
        # Its pid, from the file the server writes beside its store: no crash a signal can't do.
        (ports_file,) = server.store_dir.glob("nats-server_*.ports")
        os.kill(int(ports_file.stem.removeprefix("nats-server_")), signal.SIGKILL)
    await asyncio.to_thread(server.stop)  # SIGTERM, or only the reaping of the killed one


@pytest.mark.parametrize("how", ["stopped", "killed"])
async def test_a_nats_restart_mid_stream_loses_and_repeats_nothing(
    services: Services, database_url: str, how: str
) -> None:
    config = unique_config()
    start = await start_at_head(database_url, config)
    producer = await a_producer(Driver(services), runs=3)
    stop_producing = asyncio.Event()
    async with own_nats() as server:
        url = server.url
        assert url is not None
        async with running(Relay(database_url, url, config)):
            producing = asyncio.create_task(producer.run(stop_producing))
            # 1. The relay is publishing the flow.
            await wait_checkpoint(database_url, config.stream, await producer.wait_for(30))
            # 2. NATS goes away; commands keep being accepted.
            await go_down(server, how)
            stopped_at = producer.accepted[-1]
            written_while_down = await producer.wait_for(60)
            assert await checkpoint(database_url, config.stream) <= stopped_at
            # 3. The same server comes back on the same port, with its store.
            await asyncio.to_thread(server.start)
            await producer.wait_for(30)
            stop_producing.set()
            await producing
            last = producer.accepted[-1]
            assert last > written_while_down > stopped_at
            await wait_checkpoint(database_url, config.stream, last, timeout=60)
        messages = await read(url, f"{config.prefix}.>")

    await assert_each_event_once_in_order(messages, database_url, start, last)


_WAITING = (
    "FROM pg_stat_activity WHERE datname = current_database() "
    "AND wait_event_type = 'Lock' AND query LIKE '%UPDATE relay_checkpoints SET%'"
)


async def relay_waiting_on_checkpoint(database_url: str) -> bool:
    """Whether a relay's checkpoint UPDATE is waiting for a row lock."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(f"SELECT count(*) > 0 {_WAITING}")
    finally:
        await conn.close()


async def end_relay_sessions(database_url: str) -> None:
    """Its sessions die with a killed relay. (PostgreSQL notices a client gone only when it
    next writes to it: a session left waiting for the lock would commit the checkpoint, sent
    before the kill, as soon as the lock is free.)"""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"SELECT pg_terminate_backend(pid) {_WAITING}")
        for _ in range(600):
            if not await conn.fetchval(f"SELECT count(*) > 0 {_WAITING}"):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the killed relay's session is still waiting")
    finally:
        await conn.close()


def relay_process(database_url: str, nats_url: str, stream: str, folder: Path) -> subprocess.Popen:
    """`flowledger relay` as its own process (its log in `folder`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {
        "FLOWLEDGER_DATABASE_URL": database_url,
        "FLOWLEDGER_NATS_URL": nats_url,
        "FLOWLEDGER_RELAY_STREAM": stream,
        "FLOWLEDGER_RELAY_DUPLICATE_WINDOW_S": "300",
        "FLOWLEDGER_DATA_DIR": str(folder / "data"),
    }
    with (folder / "relay.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "adapters.cli.main", "relay"],
            cwd=folder,  # no developer .env files
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def test_a_relay_killed_between_publish_and_checkpoint_delivers_no_duplicate(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    # The stream and prefix `flowledger relay` uses, on a server of this test's own.
    config = RelayConfig(
        stream=unique_config().stream, prefix=DEFAULT_PREFIX, duplicate_window_s=300
    )
    start = await start_at_head(database_url, config)
    producer = await a_producer(Driver(services), runs=1)
    (run,) = producer.runs
    chunks = [LogChunk(seq=n, text=f"line {n}") for n in range(1, 151)]
    last = (await producer.driver.logs(run, *chunks)).position
    assert last is not None
    total = last - start
    assert total > config.batch  # the relay publishes its first batch, then stalls
    async with own_nats() as server:
        url = server.url
        assert url is not None
        holder = await asyncpg.connect(database_url)
        try:
            # Holding the checkpoint row lets the relay publish a batch, then stalls its
            # checkpoint UPDATE: killed there, it has published what it never recorded.
            async with holder.transaction():
                await holder.execute(
                    "SELECT 1 FROM relay_checkpoints WHERE name = $1 FOR UPDATE", config.stream
                )
                first = relay_process(database_url, url, config.stream, tmp_path)
                try:
                    async with asyncio.timeout(30):
                        while not await relay_waiting_on_checkpoint(database_url):
                            assert first.poll() is None, (tmp_path / "relay.log").read_text()
                            await asyncio.sleep(0.05)
                finally:
                    first.kill()
                    await asyncio.to_thread(first.wait)
                    await end_relay_sessions(database_url)
        finally:
            await holder.close()
        killed_with = await stream_info(url, config.stream)
        # `flowledger relay` set the stream up from its settings, window included: the
        # republish below comes seconds later, well inside it.
        assert killed_with.config.duplicate_window == 300
        assert killed_with.state.messages == config.batch
        assert await checkpoint(database_url, config.stream) == start  # JetStream is ahead

        async with running(Relay(database_url, url, config)) as relay:
            await wait_checkpoint(database_url, config.stream, last)
        assert relay.published == total  # the first batch again, then the rest

        messages = await read(url, f"{config.prefix}.>")
        after = await stream_info(url, config.stream)

    assert after.state.messages == total
    await assert_each_event_once_in_order(messages, database_url, start, last)


async def stream_info(url: str, stream: str) -> StreamInfo:
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().stream_info(stream)
    finally:
        await nc.close()


async def test_nats_back_without_its_store_gets_the_stream_again_and_what_was_unpublished(
    services: Services, database_url: str
) -> None:
    config = unique_config()
    await start_at_head(database_url, config)
    producer = await a_producer(Driver(services), runs=2)
    stop_producing = asyncio.Event()
    async with own_nats() as server:
        url = server.url
        assert url is not None
        async with running(Relay(database_url, url, config)):
            producing = asyncio.create_task(producer.run(stop_producing))
            await wait_checkpoint(database_url, config.stream, await producer.wait_for(20))
            await go_down(server, "stopped")
            published = await checkpoint(database_url, config.stream)
            await producer.wait_for(20)
            # A new, empty store: the stream and everything in it are gone.
            shutil.rmtree(server.store_dir / "jetstream")
            await asyncio.to_thread(server.start)
            await producer.wait_for(20)
            stop_producing.set()
            await producing
            last = producer.accepted[-1]
            await wait_checkpoint(database_url, config.stream, last, timeout=60)
        messages = await read(url, f"{config.prefix}.>")

    await assert_each_event_once_in_order(messages, database_url, published, last)
