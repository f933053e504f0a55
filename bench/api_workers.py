"""What a second API process adds: one uvicorn worker against two on one port, in one run.

    uv run python bench/api_workers.py [--seconds 10] [--rounds 2] [--clients 32] [--loaders 1]

The load is bench/commands.py's (each client triggers a run of a 3-step pipeline and reports
each step running then succeeded; every 2xx answer is one command). (b), the baseline, is the
flowledger API served by ONE uvicorn worker; (a) is the same app served by `uvicorn --workers 2`:
two processes accepting on one listening socket, each with its own pools and its own aggregate
cache, over one PostgreSQL. Each variant has its own fresh database; rounds alternate the order.
a/b is what the second process adds on this machine: it can reach 2x only with a free core for
it (PostgreSQL, the load processes and the first worker share the same cores here).

Uses FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL when set, else starts the embedded servers.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench._api_setup import STEPS, admin_key, make_pipeline
from bench._databases import fresh_database
from bench._http_client import Client
from bench._http_load import Totals, free_port, run_load, server_command, server_flags
from bench._proc_cpu import cpu_seconds
from bench.commands import FACTORY

WORKERS = {"two": 2, "one": 1}
LABELS = {"two": "2 uvicorn workers", "one": "1 uvicorn worker"}


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's workers are children of its supervisor)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(member)
    return total


@contextlib.asynccontextmanager
async def serve_workers(env: dict[str, str], workers: int) -> AsyncIterator[tuple[int, int]]:
    port = free_port()
    cmd = server_command(FACTORY, port, workers)
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, env=env)
    try:
        healthy = 0
        for _ in range(300):
            if proc.returncode is not None:
                raise SystemExit(f"uvicorn exited with {proc.returncode}")
            with contextlib.suppress(OSError):
                status, _ = await Client(port, {"Connection": "close"}).request("GET", "/health")
                healthy = healthy + 1 if status == 200 else 0
            children = len(process_tree(proc.pid)) - 1
            if healthy >= 2 * workers and (workers == 1 or children >= workers):
                break
            await asyncio.sleep(0.2)
        else:
            raise SystemExit("the server did not become healthy")
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def bench(args: argparse.Namespace, env: dict[str, str], server_db: str) -> dict:
    envs, keys, ports, pids, totals, cpu = {}, {}, {}, {}, {}, {}
    for variant in WORKERS:
        database = await fresh_database(server_db, crud=False)
        envs[variant] = {
            **env,
            "FLOWLEDGER_DATABASE_URL": database,
            "BENCH_VARIANT": "flowledger",
        }
        keys[variant] = await admin_key(envs[variant])
        totals[variant], cpu[variant] = Totals(), 0.0
    http, loop = server_flags()
    print(
        f"flowledger API ({http}, {loop} loop), {args.clients} clients in {args.loaders} load "
        f"process(es), {args.rounds} rounds of {args.warmup:.0f} s warm-up + {args.seconds:.0f} s "
        f"per variant, {os.cpu_count()} cores"
    )
    async with contextlib.AsyncExitStack() as stack:
        for variant, workers in WORKERS.items():
            ports[variant], pids[variant] = await stack.enter_async_context(
                serve_workers(envs[variant], workers)
            )
        pipelines = {v: await make_pipeline(ports[v], keys[v]) for v in WORKERS}
        load = {k: getattr(args, k) for k in ("clients", "loaders", "warmup", "seconds")}
        for round_ in range(args.rounds):
            for v in list(WORKERS)[:: -1 if round_ % 2 else 1]:
                before = tree_cpu_seconds(pids[v])
                await run_load(totals[v], pids[v], ports[v], keys[v], pipelines[v], STEPS, **load)
                cpu[v] += tree_cpu_seconds(pids[v]) - before  # warm-up included
    return {"totals": totals, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--loaders", type=int, default=1, help="load processes sharing the clients")
    args = parser.parse_args()

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, env):
        r = asyncio.run(bench(args, env, urls.database_url))
    rate = {}
    for v, letter in zip(WORKERS, ("(a)", "(b)"), strict=True):
        t = r["totals"][v]
        rate[v] = t.ok / t.seconds
        busy, total, _ = t.machine
        print(
            f"{letter} {LABELS[v] + ' commands/s':<30}{rate[v]:>8,.0f}   non-2xx "
            f"{sum(t.errors.values())}   p50 {t.quantile(0.5):5.1f} ms  "
            f"p99 {t.quantile(0.99):6.1f} ms"
        )
        print(
            f"    API processes {r['cpu'][v] * 1000 / max(t.sent, 1):.2f} ms CPU/command "
            f"(warm-ups included); machine busy {busy / total:.0%}"
        )
    print(f"a/b = {rate['two'] / rate['one']:.2f} (2.00 would be linear)")
    failed = {v: t for v, t in r["totals"].items() if t.errors}
    for v, t in failed.items():
        print(f"FAILED: {v} answered non-2xx {t.errors}; the first: {t.first_error}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
