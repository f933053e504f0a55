"""Instructions per command in the API process, under callgrind: bench/commands.py's flowledger
server (or its telemetry variant) driven by a fixed number of commands.

    uv run python bench/callgrind_commands.py [--variant plain|traced|metrics|tracing]
        [--cycles 200] [--warmup 60] [--clients 4] [--out /tmp/cg.out]

The server runs under `valgrind --tool=callgrind --instr-atstart=no`; collection is switched on
after a warm-up (imports, first plans, caches) and off after `--cycles` runs of 1 trigger + 6
step reports, so the count is the steady state of every thread of the process (the span
exporter's included). `traced` is bench/commands.py --telemetry's (a): metrics on, 10% of
traces sampled, exported by OTLP/HTTP in batches to a counting sink; `plain` its (b). Far
steadier than throughput on a loaded machine; callgrind_annotate on --out says where they go.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench._api_setup import STEPS, admin_key, make_pipeline
from bench._callgrind import callgrind_server, counted
from bench._databases import fresh_database
from bench._http_client import Answer, Client
from bench._http_load import status_bodies
from bench._telemetry_variants import otlp_sink, variant_env

PARTS = {"traced": "both", "metrics": "metrics", "tracing": "tracing"}


async def commands(port: int, key: str, pipeline: str, cycles: int, clients: int) -> int:
    """Runs `cycles` runs through their steps over `clients` connections; the commands sent."""
    left = [cycles]
    sent = [0]
    reports = status_bodies(list(STEPS))

    async def one(client: Client) -> None:
        while left[0] > 0:
            left[0] -= 1
            status, body = await client.post(f"/api/v1/pipelines/{pipeline}/runs", b"{}")
            assert status == 201, body
            run = msgspec.json.decode(body, type=Answer).id
            for report in reports:
                status, body = await client.post(f"/api/v1/pipeline-runs/{run}/status", report)
                assert status == 202, body
            sent[0] += 1 + len(reports)

    conns = [Client(port, {"X-API-Key": key}) for _ in range(clients)]
    await asyncio.gather(*(one(c) for c in conns))
    for conn in conns:
        await conn.close()
    return sent[0]


async def main_async(args: argparse.Namespace, env: dict[str, str], server: str, sink: str) -> None:
    db = await fresh_database(server, crud=False)
    variant = "flowledger" if args.variant == "plain" else "traced"
    run_env = {
        **env,
        **variant_env(variant, sink, PARTS.get(args.variant, "both")),
        "FLOWLEDGER_DATABASE_URL": db,
        "BENCH_VARIANT": variant,
    }
    if args.variant == "plain":  # bench/commands.py --telemetry's (b): both off
        run_env.update(variant_env("flowledger", sink))
    key = await admin_key(run_env)
    async with callgrind_server("bench.commands:server_app", run_env, args.out) as (port, pid):
        pipeline = await make_pipeline(port, key)
        await commands(port, key, pipeline, args.warmup, args.clients)

        async def work() -> int:
            sent = await commands(port, key, pipeline, args.cycles, args.clients)
            if args.variant != "plain":
                await asyncio.sleep(6)  # the batch processor's export (every 5 s) inside the window
            return sent

        sent, seconds, net, busy = await counted(pid, args.out, work, args.idle)
    # Thread 1 serves the requests; the others are the span exporter and the pools' helpers.
    print(
        f"{args.variant}: {sent} commands in {seconds:.0f} s; instructions per command net of "
        f"idle: {sum(net.values()) / sent:,.0f} (event loop's thread {net['01'] / sent:,.0f}, "
        f"other threads {(sum(net.values()) - net['01']) / sent:,.0f}); gross "
        f"{sum(busy.values()) / sent:,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", choices=("plain", *PARTS), default="traced")
    parser.add_argument("--cycles", type=int, default=200, help="runs measured (7 commands each)")
    parser.add_argument("--warmup", type=int, default=60, help="runs before measuring")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--out", default="/tmp/callgrind.commands.out")
    args = parser.parse_args()

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, env), otlp_sink() as (sink, received):
        asyncio.run(main_async(args, env, urls.database_url, sink))
        print(f"OTLP exports received: {received[0]} ({received[1]:,} bytes)")


if __name__ == "__main__":
    main()
