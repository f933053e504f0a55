"""WebSocket fan-out: 2,000 clients on ONE gateway process while commands write 500 events/s.

    uv run python bench/fanout.py [--runs 200] [--per-run 10] [--rate 500] [--seconds 20]

Real processes, as in production: `flowledger gateway` (the one measured), `flowledger api`,
`flowledger relay`, over embedded PostgreSQL and NATS in a temp folder. The clients run in
`--client-processes` processes of their own (bench/_ws_clients.py), each client on
/ws/runs/{id}, `--per-run` clients per run. Commands append one log chunk each (one event) to
the runs, paced at `--rate` per second over keep-alive HTTP connections.

Reported: the end-to-end latency from the command's HTTP answer to the client's receipt of the
event (p50, p99), messages delivered per second, the gateway's memory per idle connection (RSS
before and after connecting the clients), and, as the baseline measured in the same run and on
the same NATS, plain publish-to-subscriber latency between two processes, with the ratios.
Beside them, the gateway's CPU per delivered message (the figure a loaded machine spoils
least), how long its event loop's thread waited for a core while runnable (on a shared machine
a process can be short of CPU while using little of it), and the client processes' CPU.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and would shadow the top-level packages.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import msgspec

from bench._fanout_gateway import gateway_share, rss_kib
from bench._fanout_traffic import (
    EVENTS_SUBJECT,
    PROBE_SUBJECT,
    drive,
    publish_probes,
    setup,
    spawn_clients,
)
from bench._http_client import Client
from bench._http_load import free_port


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[int(q * (len(ordered) - 1))]


@contextlib.asynccontextmanager
async def role(name: str, env: dict[str, str], port: int | None) -> AsyncIterator[int]:
    """`flowledger NAME` as its own process; yields its pid once it answers /health."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", name, cwd=ROOT, env=env
    )
    try:
        for _ in range(300):
            if proc.returncode is not None:
                raise SystemExit(f"flowledger {name} exited with {proc.returncode}")
            if port is None:
                break
            with contextlib.suppress(OSError):
                status, _ = await Client(port, {"Connection": "close"}).request("GET", "/health")
                if status == 200:
                    break
            await asyncio.sleep(0.2)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def bench(args: argparse.Namespace, env: dict[str, str], urls: object) -> dict:
    from adapters.bootstrap import open_services
    from adapters.platform.admin_key import create_key
    from adapters.platform.settings import load_settings
    from adapters.store.migrations import migrate

    await migrate(env["FLOWLEDGER_DATABASE_URL"])
    settings = load_settings(env, cwd=Path(env["FLOWLEDGER_DATA_DIR"]))
    async with open_services(settings, env["FLOWLEDGER_DATABASE_URL"]) as services:
        _, key = await create_key(
            services, name="bench", scopes=("admin",), project_id=None, at=datetime.now(UTC)
        )
    gateway_port, api_port = free_port(), free_port()
    client_env = {**env, "BENCH_TOKEN": key}
    async with contextlib.AsyncExitStack() as stack:
        api_env = {**env, "FLOWLEDGER_PORT": str(api_port)}
        gw_env = {**env, "FLOWLEDGER_PORT": str(gateway_port)}
        await stack.enter_async_context(role("api", api_env, api_port))
        await stack.enter_async_context(role("relay", env, None))
        gateway_pid = await stack.enter_async_context(role("gateway", gw_env, gateway_port))
        run_ids = await setup(api_port, key, args.runs)
        base = f"ws://127.0.0.1:{gateway_port}"
        # One client first: the gateway's NATS subscription starts with its first connection.
        warm = await spawn_clients([base, run_ids[0], "1"], client_env)
        await asyncio.sleep(2.0)
        rss_before = rss_kib(gateway_pid)
        shares = [run_ids[i :: args.client_processes] for i in range(args.client_processes)]
        procs = [
            await spawn_clients([base, ",".join(share), str(args.per_run)], client_env)
            for share in shares
        ]
        await asyncio.sleep(3.0)
        rss_after = rss_kib(gateway_pid)
        nats_url = env["FLOWLEDGER_NATS_URL"]
        probe = await spawn_clients(["--probe", nats_url, PROBE_SUBJECT, EVENTS_SUBJECT], env)
        start = time.time() + args.warmup
        end = start + args.seconds
        window = f"{start!r} {end!r}\n".encode()
        for proc in (*procs, probe, warm):
            assert proc.stdin is not None
            proc.stdin.write(window)
            await proc.stdin.drain()
        (answered, failures), _, ((user_s, system_s), waited_s, preempted) = await asyncio.gather(
            drive(api_port, key, run_ids, args.rate, time.time(), end + 2.0),
            publish_probes(env["FLOWLEDGER_NATS_URL"], start, end),
            gateway_share(gateway_pid, start, end),
        )
        outputs = [msgspec.json.decode((await p.communicate())[0]) for p in procs]
        probed = msgspec.json.decode((await probe.communicate())[0])
        await warm.communicate()
    latencies = [
        (received - answered[position]) * 1000
        for out in outputs
        for position, received in out["received"]
        if position in answered
    ]
    commands = sum(1 for t in answered.values() if start <= t < end)
    relayed = dict(probed["relayed"])
    return {
        "relay": [(t - answered[p]) * 1000 for p, t in relayed.items() if p in answered],
        "hop": [
            (received - relayed[position]) * 1000
            for out in outputs
            for position, received in out["received"]
            if position in relayed
        ],
        "latencies": latencies,
        "delivered": sum(len(out["received"]) for out in outputs),
        "closed": sum(out["closed"] for out in outputs),
        "commands": commands,
        "failures": failures,
        "probe": probed["latencies_ms"],
        "rss": (rss_before, rss_after),
        "gateway_cpu_s": user_s + system_s,
        "gateway_system_s": system_s,
        "gateway_waited_s": waited_s,
        "gateway_preempted": preempted,
        "clients_cpu_s": [out["cpu_s"] for out in outputs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--per-run", type=int, default=10)
    parser.add_argument("--rate", type=float, default=500.0, help="commands (events) per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--client-processes", type=int, default=4)
    args = parser.parse_args()

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every process
    clients = args.runs * args.per_run
    if hard < clients + 1000:
        raise SystemExit(f"the file-descriptor limit ({hard}) is too low for {clients} clients")

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, env):
        env["FLOWLEDGER_DATABASE_URL"] = urls.database_url
        r = asyncio.run(bench(args, env, urls))

    lat, probe = r["latencies"], r["probe"]
    p50, p99 = quantile(lat, 0.5), quantile(lat, 0.99)
    b50, b99 = quantile(probe, 0.5), quantile(probe, 0.99)
    before, after = r["rss"]
    per_conn = (after - before) / clients
    print(
        f"{clients:,} clients on {args.runs} runs ({args.per_run} per run) in "
        f"{args.client_processes} processes; {os.cpu_count()} cores; {args.seconds:.0f} s measured"
    )
    print(
        f"commands answered in the window: {r['commands'] / args.seconds:,.0f}/s "
        f"(asked {args.rate:,.0f}/s; {r['failures']} failed)"
    )
    print(
        f"messages delivered: {r['delivered'] / args.seconds:,.0f}/s "
        f"(expected ~{r['commands'] * args.per_run / args.seconds:,.0f}/s); "
        f"connections lost: {r['closed']}; gateway CPU {r['gateway_cpu_s'] / args.seconds:.0%}"
    )
    delivered = max(r["delivered"], 1)
    print(
        f"gateway CPU per delivered message: {r['gateway_cpu_s'] / delivered * 1e6:.0f} µs "
        f"({r['gateway_system_s'] / delivered * 1e6:.0f} µs of it in the kernel); "
        f"its loop waited for a core {r['gateway_waited_s'] / args.seconds:.0%} of the window "
        f"and was preempted {r['gateway_preempted'] / delivered:.2f} times per message; "
        f"client processes' CPU: {', '.join(f'{c / args.seconds:.0%}' for c in r['clients_cpu_s'])}"
    )
    print(f"{'':<34}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'(a) command answer -> client':<34}{p50:>9.1f}{p99:>9.1f}")
    print(f"{'   of which answer -> NATS (relay)':<34}{quantile(r['relay'], 0.5):>9.1f}"
          f"{quantile(r['relay'], 0.99):>9.1f}")  # fmt: skip
    print(f"{'   of which NATS -> client (gateway)':<34}{quantile(r['hop'], 0.5):>9.1f}"
          f"{quantile(r['hop'], 0.99):>9.1f}")  # fmt: skip
    print(f"{'(b) NATS publish -> subscriber':<34}{b50:>9.2f}{b99:>9.2f}")
    print(f"{'a / b':<34}{p50 / max(b50, 1e-3):>9.0f}{p99 / max(b99, 1e-3):>9.0f}")
    print(
        f"gateway RSS {before / 1024:,.0f} MiB -> {after / 1024:,.0f} MiB with {clients:,} idle "
        f"clients: {per_conn:.1f} KiB per connection"
    )
    print(f"target p99 < 100 ms: {'met' if p99 < 100 else 'NOT met'}")
    print(f"target < 64 KiB per idle connection: {'met' if per_conn < 64 else 'NOT met'}")


if __name__ == "__main__":
    main()
