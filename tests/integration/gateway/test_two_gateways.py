"""Gateways are stateless: two `flowledger gateway` processes both deliver everything, in order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from adapters.platform.embedded import EmbeddedNats
from adapters.platform.embedded._process import free_port
from adapters.platform.secrets import SecretBox
from adapters.store import EventStore
from adapters.streaming.relay import Relay, RelayConfig
from tests.integration.gateway.gatewaying import JWT_SECRET, a_run, step
from tests.integration.gateway.serving import events_from
from tests.integration.gateway.test_gateway import key
from tests.integration.relay.relaying import running, start_at_head, unique_config

ROOT = Path(__file__).resolve().parents[3]


@contextlib.asynccontextmanager
async def gateway_process(database_url: str, nats_url: str, data_dir: Path) -> AsyncIterator[str]:
    """A real `flowledger gateway` on a free port; yields its ws:// base once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {
        "FLOWLEDGER_DATABASE_URL": database_url,
        "FLOWLEDGER_NATS_URL": nats_url,
        "FLOWLEDGER_PORT": str(port),
        "FLOWLEDGER_DATA_DIR": str(data_dir),
        "FLOWLEDGER_JWT_SECRET": JWT_SECRET,
        "FLOWLEDGER_CIPHER_KEY": SecretBox.generate_key(),
        "FLOWLEDGER_LOG_LEVEL": "WARNING",
    }
    log = data_dir / f"gateway-{port}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.cli.main", "gateway",
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            while not await asyncio.to_thread(_answers, port):
                assert proc.returncode is None, log.read_text()
                await asyncio.sleep(0.2)
        yield f"ws://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


async def test_two_gateway_processes_each_deliver_every_event_in_order(
    store: EventStore, services: Any, database_url: str
) -> None:
    # A NATS of our own: the processes use the default subject prefix, as in production.
    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-test-"))
    server = EmbeddedNats(data_dir)
    config = RelayConfig(stream=unique_config().stream)
    try:
        url = await asyncio.to_thread(server.start)
        await start_at_head(database_url, config)
        first, second = await a_run(store), await a_run(store)
        _, token = await key(services)
        async with (
            running(Relay(database_url, url, config)),
            gateway_process(database_url, url, data_dir) as one,
            gateway_process(database_url, url, data_dir) as two,
        ):
            runs = {run.run: run for run in (first, second)}
            clients = {
                (base, run_id): await connect(
                    f"{base}/ws/runs/{run_id}?token={token}&after={run.last}"
                )
                for base in (one, two)
                for run_id, run in runs.items()
            }
            system = [
                await connect(f"{b}/ws/system?token={token}&after={first.last}") for b in (one, two)
            ]
            written: dict[str, list[int]] = {run_id: [] for run_id in runs}
            for i in range(10):
                for run_id in runs:
                    written[run_id].append(await step(store, run_id, i))
            last = max(max(positions) for positions in written.values())
            got = {pair: await events_from(ws, 10) for pair, ws in clients.items()}
            everything = [await events_from(ws, last - first.last) for ws in system]
            for ws in (*clients.values(), *system):
                await ws.close()
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
    for (_, run_id), messages in got.items():
        assert [m["position"] for m in messages] == written[run_id]
    for messages in everything:  # the second run's creation, the key's, every step
        assert [m["position"] for m in messages] == list(range(first.last + 1, last + 1))
