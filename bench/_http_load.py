"""The processes of bench/commands.py: a uvicorn server, and load processes counting its answers.

`serve` starts one uvicorn worker. `run_load` starts the load processes (so that they never share
the server's GIL) and merges what they count; each of them, with bench/_http_client.py's
keep-alive client:

    BENCH_API_KEY=... python -m bench._http_load PORT PIPELINE_ID STEPS CLIENTS START SECONDS

prints one JSON line: {"cpu_s", "sent", "ok", "errors": {status: n}, "first_error", "latencies_ms"};
`ok` and the latencies count the 2xx answers between the wall-clock times START and START+SECONDS,
`sent` and `errors` every answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import msgspec

from bench._http_client import Answer, Client, Tally
from bench._proc_cpu import cpu_seconds, machine_jiffies, tree_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent


def status_bodies(steps: list[str]) -> list[bytes]:
    bodies = []
    for step in steps:
        bodies.append(msgspec.json.encode({"step": step, "status": "running"}))
        bodies.append(msgspec.json.encode({"step": step, "status": "succeeded", "exit_code": 0}))
    return bodies


async def drive(client: Client, pipeline_id: str, steps: list[str], tally: Tally) -> None:
    """Trigger a run, walk each step through running and succeeded, repeat until time is up."""
    trigger = f"/api/v1/pipelines/{pipeline_id}/runs"
    reports = status_bodies(steps)
    while time.time() < tally.end:
        began = time.time()
        status, body = await client.post(trigger, b"{}")
        tally.record(status, body, began)
        if status != 201:
            await asyncio.sleep(0.01)
            continue
        path = f"/api/v1/pipeline-runs/{msgspec.json.decode(body, type=Answer).id}/status"
        for report in reports:
            began = time.time()
            status, body = await client.post(path, report)
            tally.record(status, body, began)
            if status != 202 or time.time() >= tally.end:
                break


async def load(
    port: int, key: str, pipeline_id: str, steps: list[str], clients: int, start: float, s: float
) -> Tally:
    tally = Tally(start, start + s)
    conns = [Client(port, {"X-API-Key": key}) for _ in range(clients)]
    try:
        await asyncio.gather(*(drive(c, pipeline_id, steps, tally) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    return tally


def main() -> None:
    port, pipeline_id, steps, clients, start, seconds = sys.argv[1:7]
    key = os.environ["BENCH_API_KEY"]  # not in argv, where `ps` would show it
    tally = asyncio.run(
        load(
            int(port),
            key,
            pipeline_id,
            steps.split(","),
            int(clients),
            float(start),
            float(seconds),
        )
    )
    result = {
        "cpu_s": time.process_time(),
        "sent": tally.sent,
        "ok": tally.ok,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "latencies_ms": tally.latencies_ms,
    }
    sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")


# ---- the parent side: the server and the load processes ------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_flags() -> tuple[str, str]:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return "httptools, one send per answer", loop


def server_command(factory: str, port: int, workers: int = 1) -> list[str]:
    """Every variant on the API's own HTTP protocol (bench/_uvicorn.py)."""
    _, loop = server_flags()
    args = ["--port", str(port), "--loop", loop, "--workers", str(workers)]
    return [sys.executable, "-m", "bench._uvicorn", factory, *args]


@contextlib.asynccontextmanager
async def serve(factory: str, env: dict[str, str]) -> AsyncIterator[tuple[int, int]]:
    """One uvicorn worker in its own process serving `factory()`: (port, pid) once healthy."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(*server_command(factory, port), cwd=ROOT, env=env)
    try:
        for _ in range(300):
            if proc.returncode is not None:
                raise SystemExit(f"the server {factory} exited with {proc.returncode}")
            with contextlib.suppress(OSError):
                status, _ = await Client(port, {"Connection": "close"}).request("GET", "/health")
                if status == 200:
                    break
            await asyncio.sleep(0.2)
        else:
            raise SystemExit(f"the server {factory} did not become healthy")
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


class Totals(msgspec.Struct):
    """What the load processes counted and the CPU used, summed over the measured windows."""

    seconds: float = 0.0
    ok: int = 0
    sent: int = 0  # every answered request, warm-ups included
    errors: dict[str, int] = {}
    first_error: str = ""
    latencies_ms: list[float] = []
    server_cpu_s: float = 0.0
    server_loop_cpu_s: float = 0.0  # the server's main thread: its event loop
    postgres_cpu_s: float = 0.0  # every PostgreSQL process, when the bench started the server
    load_cpu_s: float = 0.0
    load_s: float = 0.0
    machine: list[int] = msgspec.field(default_factory=lambda: [0, 0, 0])  # busy, all, steal

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms) or [0.0]
        return ordered[int(q * (len(ordered) - 1))]


async def run_load(
    into: Totals,
    server_pid: int,
    port: int,
    key: str,
    pipeline_id: str,
    steps: Sequence[str],
    *,
    clients: int,
    loaders: int,
    warmup: float,
    seconds: float,
    postgres_pid: int | None = None,
) -> None:
    """Spawn the load processes, sample CPU over the measured window, add it all `into`."""
    start = time.time() + 1.0 + warmup  # 1 s for the load processes to start
    shares = [clients // loaders + (i < clients % loaders) for i in range(loaders)]
    procs = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bench._http_load", str(port), pipeline_id, ",".join(steps)),
            *(str(n), repr(start), repr(seconds)),
            cwd=ROOT,
            env={**os.environ, "BENCH_API_KEY": key},
            stdout=subprocess.PIPE,
        )
        for n in shares
    ]
    await asyncio.sleep(start - time.time())
    postgres0 = tree_cpu_seconds(postgres_pid) if postgres_pid else 0.0
    loop0 = cpu_seconds(server_pid, server_pid)
    server0, machine0 = cpu_seconds(server_pid), machine_jiffies()
    await asyncio.sleep(seconds)
    server1, machine1 = cpu_seconds(server_pid), machine_jiffies()
    loop1 = cpu_seconds(server_pid, server_pid)
    postgres1 = tree_cpu_seconds(postgres_pid) if postgres_pid else 0.0
    outputs = [(await p.communicate())[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a load process failed")
    into.seconds += seconds
    into.server_cpu_s += server1 - server0
    into.server_loop_cpu_s += loop1 - loop0
    into.postgres_cpu_s += postgres1 - postgres0
    into.load_s += time.time() - start + 1.0 + warmup
    into.machine = [t + b - a for t, a, b in zip(into.machine, machine0, machine1, strict=True)]
    for tally in (msgspec.json.decode(out) for out in outputs):
        into.ok += tally["ok"]
        into.sent += tally["sent"]
        into.load_cpu_s += tally["cpu_s"]
        into.latencies_ms += tally["latencies_ms"]
        into.first_error = into.first_error or tally["first_error"]
        for status, n in tally["errors"].items():
            into.errors[status] = into.errors.get(status, 0) + n


if __name__ == "__main__":
    main()
