"""Concurrency groups with pushes arriving at two real `flowledger api` processes at once
(separate ports, the same PostgreSQL and NATS), under each policy: the group's stream orders
them however the requests interleave across processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from adapters.platform.embedded._process import free_port
from tests.integration.runner.stack import Stack, runners
from tests.integration.runner.test_concurrency_groups import group_of, grouped_pipeline, trace

ROOT = Path(__file__).resolve().parents[3]
PUSHES = 6


@contextlib.asynccontextmanager
async def api_process(stack: Stack, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A real `flowledger api` on a free port, on the stack's database and NATS."""
    port = free_port()
    settings = stack.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {
        "FLOWLEDGER_DATABASE_URL": str(settings.database_url),
        "FLOWLEDGER_NATS_URL": str(settings.nats_url),
        "FLOWLEDGER_PORT": str(port),
        "FLOWLEDGER_DATA_DIR": str(data_dir),
        "FLOWLEDGER_CIPHER_KEY": str(settings.cipher_key),  # every process shares it
        "FLOWLEDGER_RATE_LIMIT_PER_KEY": "0",
        "FLOWLEDGER_RATE_LIMIT_PER_ADDRESS": "0",
        "FLOWLEDGER_METRICS_ENABLED": "false",
        "FLOWLEDGER_LOG_LEVEL": "WARNING",
    }
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    log = data_dir / f"api-{port}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.cli.main", "api",
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            async with asyncio.timeout(90):
                while True:
                    assert process.returncode is None, log.read_text()
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/health")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
            yield http
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def pushes(
    stack: Stack, apis: list[httpx.AsyncClient], pipeline: str, **params: Any
) -> list[str]:
    """PUSHES pushes to main at once, alternating between the API processes."""

    async def push(http: httpx.AsyncClient) -> str:
        answer = await http.post(
            f"/api/v1/pipelines/{pipeline}/runs",
            json={"ref": "refs/heads/main", "parameters": params},
            headers=stack.admin,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    return list(await asyncio.gather(*(push(apis[i % 2]) for i in range(PUSHES))))


async def requested_order(stack: Stack, runs: list[str]) -> list[str]:
    """The runs in the order their requests were recorded (global position)."""
    rows = await stack.pool.fetch(
        "SELECT stream_id FROM events WHERE type = 'RunRequested' AND stream_id = ANY($1::text[])"
        " ORDER BY position",
        runs,
    )
    return [str(row["stream_id"]) for row in rows]


async def test_queue_across_two_api_processes_runs_one_at_a_time_in_request_order(
    stack: Stack, label: str, shared: Path
) -> None:
    pipeline = await grouped_pipeline(stack, label, shared, "queue")
    async with api_process(stack, shared / "a") as a, api_process(stack, shared / "b") as b:
        runs = await pushes(stack, [a, b], pipeline, pause=0.3)
    async with runners(stack.runner_config(label, concurrency=3)):
        for run_id in runs:
            assert await stack.finished(run_id) == "RunSucceeded"

    order = await requested_order(stack, runs)
    # One at a time (every start is followed by its own end), in the order of the requests.
    assert trace(shared) == [(edge, run) for run in order for edge in ("start", "end")]
    _, events = await group_of(stack, runs[0])
    admitted = [d["run_id"] for t, d in events if t == "ConcurrencyRunAdmitted"]
    assert admitted == order


async def test_cancel_in_progress_across_two_api_processes_keeps_only_the_newest(
    stack: Stack, label: str, shared: Path
) -> None:
    pipeline = await grouped_pipeline(stack, label, shared, "cancel_in_progress")
    async with runners(stack.runner_config(label, concurrency=3)):
        async with api_process(stack, shared / "a") as a, api_process(stack, shared / "b") as b:
            runs = await pushes(stack, [a, b], pipeline, pause=30)
        order = await requested_order(stack, runs)
        newest = order[-1]
        # The newest's pause is long too: it must not be superseded, and it is let through.
        await stack.wait_for_event(newest, ("StepStarted",))
        for run_id in order[:-1]:
            assert await stack.finished(run_id) == "RunCancelled"
        answer = await stack.http.post(
            f"/api/v1/pipeline-runs/{newest}/cancel", json={"reason": "test over"},
            headers=stack.admin,
        )  # fmt: skip
        assert answer.status_code == 202
        assert await stack.finished(newest) == "RunCancelled"

    superseded: dict[str, str] = {}
    for run_id in order[:-1]:
        cancel = next(d for _, t, d in await stack.events(run_id) if t == "RunCancelRequested")
        assert cancel["actor"] == "dispatcher", cancel
        superseded[run_id] = cancel["reason"]
    # Each older push was superseded by a newer one of the same group, never by an older one.
    for run_id, reason in superseded.items():
        by = reason.removeprefix("superseded by run ").split(" ")[0]
        assert order.index(by) > order.index(run_id), (run_id, reason)
    # Never two running at once: every start after the first follows the previous one's stop.
    started = [run for edge, run in trace(shared) if edge == "start"]
    assert started[-1] == newest and len(set(started)) == len(started)
    _, events = await group_of(stack, newest)
    admitted = [d["run_id"] for t, d in events if t == "ConcurrencyRunAdmitted"]
    assert admitted[-1] == newest
    assert admitted == [run for run in order if run in admitted]  # in request order
