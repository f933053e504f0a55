"""`flowledger tail` as a real process: filters, history from a position, a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import msgspec
import pytest
import pytest_asyncio

from adapters.cli.main import main
from adapters.platform.embedded import EmbeddedNats
from adapters.platform.services import Services
from adapters.streaming.relay import Relay, RelayConfig
from adapters.streaming.relay.subjects import DEFAULT_PREFIX
from commands.run_reports import LogChunk
from domain.envelope import EventEnvelope
from tests.integration.read_models.conftest import Driver
from tests.integration.relay.relaying import (
    own_nats,
    running,
    start_at_head,
    unique_config,
    wait_checkpoint,
)


class Tailing:
    """`python -m adapters.cli.main tail ...`, its lines read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, env: dict[str, str], folder: Path, *args: str) -> Tailing:
        # The entry point itself, not `uv run`: uv ignores a SIGINT sent to it alone.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.cli.main",
            "tail",
            *args,
            cwd=folder,  # no developer .env files
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        async with asyncio.timeout(30):
            ready = (await proc.stderr.readline()).decode()
        if not ready.startswith("tailing "):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            _, err = await proc.communicate()
            pytest.fail(f"tail did not start: {ready}{err.decode()}")
        return cls(proc)

    async def lines(self, count: int) -> list[str]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(30):
            return [(await self.proc.stdout.readline()).decode().rstrip("\n") for _ in range(count)]

    async def stop(self, sig: int) -> str:
        """Signal it, wait for its exit; what it printed after the lines read so far."""
        self.proc.send_signal(sig)
        async with asyncio.timeout(30):
            rest, err = await self.proc.communicate()
        assert self.proc.returncode == 0, err.decode()
        return rest.decode()


class World(msgspec.Struct, kw_only=True):
    server: EmbeddedNats
    config: RelayConfig
    driver: Driver
    pipeline: UUID

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
        assert self.server.url is not None
        env |= {
            "FLOWLEDGER_NATS_URL": self.server.url,
            "FLOWLEDGER_RELAY_STREAM": self.config.stream,
            "FLOWLEDGER_DATA_DIR": str(self.server.data_dir),
        }
        return {k: v for k, v in (env | overrides).items() if v}


@pytest_asyncio.fixture
async def world(services: Services, database_url: str) -> AsyncIterator[World]:
    """A relay publishing to a NATS of the test's own, with the stream `flowledger tail` reads."""
    config = RelayConfig(stream=unique_config().stream, prefix=DEFAULT_PREFIX)
    await start_at_head(database_url, config)
    driver = Driver(services)
    async with own_nats() as server:
        assert server.url is not None
        async with running(Relay(database_url, server.url, config)) as relay:
            await asyncio.wait_for(relay.active.wait(), 10)
            project = await driver.project()
            pipeline = await driver.pipeline(project)
            yield World(server=server, config=config, driver=driver, pipeline=pipeline)


async def log(world: World, run: UUID, seq: int) -> int:
    result = await world.driver.logs(run, LogChunk(seq=seq, text=f"line {seq} of the build"))
    assert result.position is not None
    return result.position


async def test_a_run_s_tail_shows_that_run_s_new_events_only_until_ctrl_c(
    world: World, tmp_path: Path
) -> None:
    mine, other = (
        await world.driver.trigger(world.pipeline),
        await world.driver.trigger(world.pipeline),
    )
    tailing = await Tailing.start(world.env(), tmp_path, "--run", str(mine))

    positions = [await log(world, run, seq) for seq in (1, 2) for run in (mine, other)]
    positions.append(await log(world, mine, 3))
    lines = await tailing.lines(3)
    # Global order: had the other run's events been printed, they would precede the last.
    rest = await tailing.stop(signal.SIGINT)

    assert rest == ""
    for line, position, seq in zip(lines, positions[0::2], (1, 2, 3), strict=True):
        recorded_at, shown_position, stream, event_type, data = line.split("  ")
        assert recorded_at.endswith("Z") and len(recorded_at) == len("2026-01-01T00:00:00.000Z")
        assert (shown_position, stream, event_type) == (
            str(position),
            f"run {mine}",
            "LogChunkAppended",
        )
        assert data.startswith(f'seq={seq} stream=stdout text="line {seq} of the build"'), data


async def test_after_a_position_it_replays_then_follows_on_up_s_embedded_nats(
    world: World, database_url: str, tmp_path: Path
) -> None:
    run = await world.driver.trigger(world.pipeline)
    first = await log(world, run, 1)
    second = await log(world, run, 2)
    await world.driver.step(run, "build", "running")
    await wait_checkpoint(database_url, world.config.stream, second)
    # No FLOWLEDGER_NATS_URL: it finds the NATS that `up` runs under FLOWLEDGER_DATA_DIR.
    env = world.env(FLOWLEDGER_NATS_URL="")
    args = ("--pipeline", str(world.pipeline), "--type", "LogChunkAppended", "--after")
    tailing = await Tailing.start(env, tmp_path, *args, str(first), "--json")

    third = await log(world, run, 3)
    lines = await tailing.lines(2)
    rest = await tailing.stop(signal.SIGTERM)

    events = [msgspec.json.decode(line, type=EventEnvelope) for line in lines]
    assert [(e.position, e.type, e.data["seq"]) for e in events] == [
        (second, "LogChunkAppended", 2),
        (third, "LogChunkAppended", 3),
    ]
    assert rest == ""


async def test_it_carries_on_through_a_nats_restart(world: World, tmp_path: Path) -> None:
    run = await world.driver.trigger(world.pipeline)
    tailing = await Tailing.start(world.env(), tmp_path, "--run", str(run))
    await log(world, run, 1)
    await tailing.lines(1)

    await asyncio.to_thread(world.server.stop)
    while_down = await log(world, run, 2)
    await asyncio.to_thread(world.server.start)  # same port, same store
    after = await log(world, run, 3)
    lines = await tailing.lines(2)
    rest = await tailing.stop(signal.SIGINT)

    assert [line.split("  ")[1] for line in lines] == [str(while_down), str(after)]
    assert rest == ""


async def test_a_missing_stream_is_a_clear_error(world: World, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adapters.cli.main",
        "tail",
        cwd=tmp_path,
        env=world.env(FLOWLEDGER_RELAY_STREAM="NO_SUCH_STREAM"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()

    assert proc.returncode == 1
    assert out == b""
    assert err.decode() == (
        "flowledger: no stream NO_SUCH_STREAM on NATS: has `flowledger relay` (or `up`) run yet?\n"
    )


def test_without_a_nats_url_or_a_running_up_it_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWLEDGER_NATS_URL", raising=False)
    monkeypatch.setenv("FLOWLEDGER_DATA_DIR", str(tmp_path / "data"))

    assert main(["tail", "--project", "6f1c6a52-2f0e-4a3c-9d55-0c1f2b9a7e10"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("flowledger: no NATS to tail: FLOWLEDGER_NATS_URL is unset")
    assert str(tmp_path / "data") in err
