"""MCP `tools/call` get_run beside the equivalent HTTP GET, on one server, in one run.

    uv run python bench/mcp.py [--calls 2000] [--clients 8]
    uv run python bench/mcp.py --quick          # a small smoke run

One uvicorn worker serves the whole API (`api_app` through bench.commands:server_app) in its
own process. A run of a three-step pipeline with logs is made through the API and projected.
Then the same minimal keep-alive HTTP/1.1 client (bench/_http_client.Client) sends, one for one
and interleaved so both sides see the same machine:

  - the baseline: GET /api/v1/pipeline-runs/{id};
  - POST /mcp `tools/call` get_run, exactly as the SDK's own client sends it (captured from a
    real SDK session, then replayed): on the initialize-handshake revision (2025-11-25), and
    on the stateless 2026-07-28 revision.

(1) sequentially, --calls of each; (2) --clients connections at once, --calls of each in all.
Target: MCP p50 and p99 <= 2 x the GET's.

FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL when set, else embedded servers in a temp folder.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()
ROOT = SELF.parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and bench/commands.py would shadow `commands`.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import httpx2
import msgspec
from mcp import Client as SdkClient
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_MODERN_VERSION

from adapters.bootstrap import open_services
from adapters.platform.admin_key import create_key
from adapters.platform.settings import Settings
from bench import _seed as seed
from bench._figures import pct, verdict
from bench._http_client import Client
from bench._http_load import serve
from projections.catalog import ALL
from projections.runtime import Projector

WARMUP = 100
KINDS = ("http", "mcp_handshake", "mcp_stateless")
# Set per connection by the raw client itself, or meaningless on a replay.
DROPPED_HEADERS = {"host", "content-length", "content-type", "accept-encoding", "connection"}


# ---- the world: a run worth reading ------------------------------------------------------------


async def make_run(port: int, key: str) -> tuple[str, int]:
    """A project, a three-step pipeline and a run with two finished steps and logs: (id, pos)."""
    api = Client(port, {"X-API-Key": key})

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = await api.post(path, msgspec.json.encode(body))
        if status not in (201, 202):
            raise SystemExit(f"POST {path} answered {status}: {answer[:300]!r}")
        return msgspec.json.decode(answer)

    project = await post("/api/v1/projects", {"name": "bench", "slug": f"b-{uuid.uuid4().hex}"})
    steps = [
        {"name": "build", "run": "make"},
        {"name": "test", "run": "make test", "needs": ["build"]},
        {"name": "deploy", "run": "make deploy", "needs": ["test"]},
    ]
    body = {"project_id": project["id"], "name": "deploy", "steps": steps}
    pipeline = await post("/api/v1/pipelines", body)
    run = (await post(f"/api/v1/pipelines/{pipeline['id']}/runs", {"parameters": {}}))["id"]
    position = 0
    for step in ("build", "test"):
        await post(f"/api/v1/pipeline-runs/{run}/status", {"step": step, "status": "running"})
        chunks = [{"seq": i, "step": step, "text": f"{step} line {i}"} for i in range(1, 21)]
        await post(f"/api/v1/pipeline-runs/{run}/logs", {"chunks": chunks})
        done = {"step": step, "status": "succeeded", "exit_code": 0}
        position = (await post(f"/api/v1/pipeline-runs/{run}/status", done))["position"]
    await api.close()
    return run, position


async def project_until(url: str, port: int, key: str, run: str, position: int) -> None:
    """Run the projector until the runs view has the run as of `position`, then stop it."""
    stop = asyncio.Event()
    projecting = asyncio.create_task(Projector(url, ALL).run(stop), name="projector")
    api = Client(port, {"X-API-Key": key})
    status, body = await api.request("GET", f"/api/v1/pipeline-runs/{run}?min_position={position}")
    await api.close()
    stop.set()
    await projecting
    if status != 200:
        raise SystemExit(f"the run was not projected: {status} {body[:300]!r}")


# ---- the MCP requests, as the SDK sends them --------------------------------------------------


async def sdk_requests(port: int, key: str, run: str) -> dict[str, tuple[dict[str, str], bytes]]:
    """The headers and body of the SDK's `tools/call` get_run, on each protocol revision."""
    captured: dict[str, tuple[dict[str, str], bytes]] = {}
    url = f"http://127.0.0.1:{port}/mcp"

    def recorder(kind: str) -> Callable[[httpx2.Request], Awaitable[None]]:
        async def record(request: httpx2.Request) -> None:
            if b'"tools/call"' in request.content:
                headers = {k: v for k, v in request.headers.items() if k not in DROPPED_HEADERS}
                captured[kind] = (headers, request.content)

        return record

    arguments = {"run_id": run}
    hooks = {"request": [recorder("mcp_handshake")]}
    async with (
        httpx2.AsyncClient(headers={"X-API-Key": key}, event_hooks=hooks) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        checked(await session.call_tool("get_run", arguments), run)
    hooks = {"request": [recorder("mcp_stateless")]}
    async with httpx2.AsyncClient(headers={"X-API-Key": key}, event_hooks=hooks) as http:
        transport = streamable_http_client(url, http_client=http)
        async with SdkClient(transport, mode=LATEST_MODERN_VERSION, cache=None) as client:
            checked(await client.call_tool("get_run", arguments), run)
    return captured


def checked(result: Any, run: str) -> None:
    if result.is_error or (result.structured_content or {}).get("id") != run:
        raise SystemExit(f"get_run over MCP did not answer the run: {result}")


# ---- timing ------------------------------------------------------------------------------------


class Caller:
    """One connection per kind; `call(kind)` sends that kind's request and checks its answer."""

    def __init__(self, port: int, key: str, run: str, mcp: dict[str, tuple[dict, bytes]]) -> None:
        self.run = run
        self.http = Client(port, {"X-API-Key": key})
        self.mcp = {kind: (Client(port, headers), body) for kind, (headers, body) in mcp.items()}

    async def call(self, kind: str) -> float:
        began = time.perf_counter()
        if kind == "http":
            status, body = await self.http.request("GET", f"/api/v1/pipeline-runs/{self.run}")
        else:
            client, request = self.mcp[kind]
            status, body = await client.post("/mcp", request)
        spent = (time.perf_counter() - began) * 1000
        if status != 200 or self.run.encode() not in body or b'"isError":true' in body:
            raise SystemExit(f"{kind} answered {status}: {body[:300]!r}")
        return spent

    async def close(self) -> None:
        await self.http.close()
        for client, _ in self.mcp.values():
            await client.close()


async def interleaved(caller: Caller, calls: int, into: dict[str, list[float]]) -> None:
    for i in range(calls):
        # Rotating the order keeps any one kind from always following the same other one.
        for kind in KINDS[i % 3 :] + KINDS[: i % 3]:
            into[kind].append(await caller.call(kind))


async def measure(port: int, key: str, run: str, mcp: dict, calls: int, clients: int) -> dict:
    callers = [Caller(port, key, run, mcp) for _ in range(max(clients, 1))]
    warm: dict[str, list[float]] = {kind: [] for kind in KINDS}
    await interleaved(callers[0], WARMUP, warm)
    sequential: dict[str, list[float]] = {kind: [] for kind in KINDS}
    await interleaved(callers[0], calls, sequential)
    concurrent: dict[str, list[float]] = {kind: [] for kind in KINDS}
    began = time.perf_counter()
    shares = [calls // len(callers) + (i < calls % len(callers)) for i in range(len(callers))]
    pairs = zip(callers, shares, strict=True)
    await asyncio.gather(*(interleaved(caller, n, concurrent) for caller, n in pairs))
    seconds = time.perf_counter() - began
    for caller in callers:
        await caller.close()
    return {"sequential": sequential, "concurrent": concurrent, "seconds": seconds}


# ---- the run -------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, base: Settings, server: str, env: dict) -> dict:
    url = await seed.fresh_database(server)
    env = {**env, "FLOWLEDGER_DATABASE_URL": url}
    async with open_services(msgspec.structs.replace(base, database_url=url), url) as s:
        now = datetime.now(UTC)
        _, key = await create_key(s, name="bench", scopes=("admin",), project_id=None, at=now)
    async with serve("bench.commands:server_app", env) as (port, _pid):
        run, position = await make_run(port, key)
        await project_until(url, port, key, run, position)
        mcp = await sdk_requests(port, key, run)
        sizes = await answer_sizes(port, key, run, mcp)
        results = await measure(port, key, run, mcp, args.calls, args.clients)
    return {**results, "sizes": sizes, "mcp": mcp}


async def answer_sizes(port: int, key: str, run: str, mcp: dict) -> dict[str, int]:
    caller = Caller(port, key, run, mcp)
    sizes = {}
    _, body = await caller.http.request("GET", f"/api/v1/pipeline-runs/{run}")
    sizes["http"] = len(body)
    for kind, (client, request) in caller.mcp.items():
        sizes[kind] = len((await client.post("/mcp", request))[1])
    await caller.close()
    return sizes


def line(label: str, values: list[float], base: list[float]) -> str:
    p50, p99 = pct(values, 0.5), pct(values, 0.99)
    ratio = f"   x{p50 / pct(base, 0.5):.2f} p50, x{p99 / pct(base, 0.99):.2f} p99"
    shown = f"    {label:<41} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
    return shown if values is base else shown + ratio


def summary(args: argparse.Namespace, r: dict[str, Any]) -> None:
    sizes = r["sizes"]
    headers = {k: v[0].get("mcp-protocol-version") for k, v in r["mcp"].items()}
    print(
        f"answer sizes: GET {sizes['http']} B; MCP {sizes['mcp_handshake']} B "
        f"({headers['mcp_handshake']}), {sizes['mcp_stateless']} B ({headers['mcp_stateless']})"
    )
    met = True
    for phase, title in (
        ("sequential", f"(1) sequential, {args.calls} calls of each, interleaved"),
        ("concurrent", f"(2) {args.clients} connections at once, {args.calls} calls of each"),
    ):
        times = r[phase]
        http = times["http"]
        print(title)
        print(line("baseline: GET /api/v1/pipeline-runs/{id}", http, http))
        for kind, label in (("mcp_handshake", "MCP tools/call (2025-11-25)"),
                            ("mcp_stateless", "MCP tools/call (2026-07-28)")):  # fmt: skip
            print(line(label, times[kind], http))
            met &= pct(times[kind], 0.5) <= 2 * pct(http, 0.5)
            met &= pct(times[kind], 0.99) <= 2 * pct(http, 0.99)
    total = 3 * args.calls / r["seconds"]
    print(f"    ({total:,.0f} requests/s over all three kinds while concurrent)")
    print(f"target MCP p50 and p99 <= 2 x the GET's: {verdict(met)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="timed calls of each kind")
    parser.add_argument("--clients", type=int, default=8, help="connections at once in (2)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.clients = 200, 4

    from bench._servers import bench_servers

    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start")
    with bench_servers() as (base, urls, env):
        # bench.commands:server_app serves api_app
        env["BENCH_VARIANT"] = "flowledger"
        results = asyncio.run(bench(args, base, urls.database_url, env))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    summary(args, results)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
