"""What bench/fanout.py sends and who receives it: runs to write to, one log chunk per command
at a steady rate, NATS probes for the baseline, and the WebSocket client processes
(bench/_ws_clients.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import nats

from bench._http_client import Answer, Client

ROOT = Path(__file__).resolve().parent.parent
PROBE_SUBJECT = "bench.fanout.probe"
PROBE_RATE = 200
EVENTS_SUBJECT = "flowledger.events.>"


class Written(msgspec.Struct):
    position: int


async def setup(port: int, key: str, runs: int) -> list[str]:
    """A project, a pipeline and `runs` runs of it, through the API."""
    client = Client(port, {"X-API-Key": key})
    slug = f"fanout-{os.getpid()}"
    body = {"name": "fanout", "slug": slug}
    status, answer = await client.post("/api/v1/projects", msgspec.json.encode(body))
    assert status == 201, answer
    project = msgspec.json.decode(answer, type=Answer).id
    pipeline = {"project_id": project, "name": "ci", "steps": [{"name": "build", "run": "make"}]}
    status, answer = await client.post("/api/v1/pipelines", msgspec.json.encode(pipeline))
    assert status == 201, answer
    pipeline_id = msgspec.json.decode(answer, type=Answer).id
    found = []
    for _ in range(runs):
        status, answer = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", b"{}")
        assert status == 201, answer
        found.append(msgspec.json.decode(answer, type=Answer).id)
    await client.close()
    return found


async def drive(
    port: int, key: str, run_ids: list[str], rate: float, start: float, end: float
) -> tuple[dict[int, float], int]:
    """One log chunk per command, `rate` commands/s spread over the runs; answers by position."""
    answered: dict[int, float] = {}
    failures = 0
    per_run = rate / len(run_ids)

    async def one_run(index: int, run_id: str) -> None:
        nonlocal failures
        client = Client(port, {"X-API-Key": key})
        path = f"/api/v1/pipeline-runs/{run_id}/logs"
        seq, due = 1, start + index / rate
        while due < end:
            await asyncio.sleep(max(0.0, due - time.time()))
            chunk = {"chunks": [{"seq": seq, "text": f"line {seq} of {run_id}"}]}
            status, body = await client.post(path, msgspec.json.encode(chunk))
            if status == 202:
                answered[msgspec.json.decode(body, type=Written).position] = time.time()
                seq += 1
            else:
                failures += 1
            due += 1 / per_run
        await client.close()

    await asyncio.gather(*(one_run(i, r) for i, r in enumerate(run_ids)))
    return answered, failures


async def publish_probes(url: str, start: float, end: float) -> None:
    nc = await nats.connect(url)
    due = start
    while due < end:
        await asyncio.sleep(max(0.0, due - time.time()))
        await nc.publish(PROBE_SUBJECT, repr(time.time()).encode())
        due += 1 / PROBE_RATE
    await nc.flush()
    await nc.close()


async def spawn_clients(args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench._ws_clients", *args, cwd=ROOT, env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=1 << 30,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 600)
    if line.strip() != b"ready":
        raise SystemExit(f"a client process failed to connect: {line!r}")
    return proc
