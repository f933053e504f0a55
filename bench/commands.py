"""HTTP command throughput: flowledger's app against a plain insert-a-row app, in one run.

    uv run python bench/commands.py [--seconds 10] [--rounds 2] [--clients 32] [--loaders 1]
    uv run python bench/commands.py --telemetry   # tracing + metrics on vs off, same run
    uv run python bench/commands.py --telemetry metrics   # or tracing: one part on vs off

Each variant is served by ONE uvicorn worker in its own process (the API's own HTTP protocol,
bench/_uvicorn.py, and uvloop when installed) over its own fresh database; the keep-alive
clients run in separate load processes (bench/_http_load.py). Each client triggers a run,
reports `running` then `succeeded` for each of its pipeline's 3 steps, and starts over; every
2xx answer is one command. Rounds alternate the order (a b, b a, ...), each a warm-up then
`--seconds` measured.

(a) is `adapters.bootstrap.api_app`. (b), the CRUD baseline, has the same routes, the same
security pieces (rate-limit set-up, API key authentication read afresh per request, security
headers, CORS, problem details), decodes the same msgspec bodies and INSERTs one row per request
with an asyncpg pool. a/b is the cost of event sourcing over CRUD.

With --telemetry the pair is different: (a) flowledger with metrics on and tracing on (10% of
traces sampled, exported by OTLP over HTTP in batches to a sink in this process that counts
them), against (b) flowledger with both off. a/b is what observability costs. `--telemetry
metrics` or `--telemetry tracing` turns only that part on in (a), to tell their costs apart;
`--telemetry neither` runs two identical servers: the a/b it prints is this machine's noise.

Uses FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL when set, else starts the embedded servers
in a temp folder. BENCH_PROFILE=/path/out.prof cProfiles the flowledger server (much slower:
only for where the time goes) and prints its top functions.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and this file would shadow the `commands` package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from litestar import Litestar

from adapters.bootstrap import api_app
from adapters.platform.settings import load_settings
from bench._api_setup import STEPS, admin_key, make_pipeline
from bench._crud_app import crud_app
from bench._databases import committed_xacts, fresh_database, postmaster_pid, sql
from bench._http_load import Totals, run_load, serve, server_flags
from bench._telemetry_variants import (
    TELEMETRY_LABELS,
    TELEMETRY_PARTS,
    TELEMETRY_VARIANTS,
    otlp_sink,
    variant_env,
)

VARIANTS = ("flowledger", "crud")
LABELS = {"flowledger": "flowledger", "crud": "CRUD insert-a-row"}
FACTORY = "bench.commands:server_app"


# ---- the servers (run inside the uvicorn process) ------------------------------------------


def server_app() -> Litestar:
    """The uvicorn `--factory`: settings come from the FLOWLEDGER_* variables bench sets."""
    settings = load_settings(os.environ, cwd=Path(os.environ["FLOWLEDGER_DATA_DIR"]))
    assert settings.database_url and settings.nats_url
    variant = os.environ["BENCH_VARIANT"]
    if os.environ.get("BENCH_PROFILE") and variant == "flowledger":
        import atexit
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        atexit.register(lambda: profiler.dump_stats(os.environ["BENCH_PROFILE"]))
    if variant == "traced":
        from adapters.telemetry.tracing import configure_tracing

        configure_tracing(
            "flowledger-api",
            exporter=settings.traces_exporter,
            sample_ratio=settings.trace_sample_ratio,
            otlp_endpoint=settings.otlp_endpoint,
        )
    build = crud_app if variant == "crud" else api_app
    return build(settings, database_url=settings.database_url, nats_url=settings.nats_url)


# ---- the benchmark (run by hand) ---------------------------------------------------------------


async def bench(
    args: argparse.Namespace, env: dict[str, str], server_db: str, sink: str | None
) -> dict[str, dict]:
    """Both servers up at once; rounds alternate A B, B A, ... so that drift hits both alike."""
    envs, keys, dbs, pids, ports, totals = {}, {}, {}, {}, {}, {}
    variants = TELEMETRY_VARIANTS if sink else VARIANTS
    for variant in variants:
        dbs[variant] = await fresh_database(server_db, crud=variant == "crud")
        envs[variant] = {
            **env,
            **variant_env(variant, sink, args.telemetry or "both"),
            "FLOWLEDGER_DATABASE_URL": dbs[variant],
            "BENCH_VARIANT": variant,
        }
        keys[variant] = await admin_key(envs[variant])
        totals[variant] = Totals()
    rows = await sql(
        dbs[variants[-1]],
        "SELECT name, setting FROM pg_settings WHERE name IN "
        "('fsync', 'synchronous_commit', 'server_version')",
    )
    print("server:", ", ".join(f"{r['name']}={r['setting']}" for r in rows))
    http, loop = server_flags()
    print(
        f"1 uvicorn worker ({http}, {loop} loop), {args.clients} clients in {args.loaders} load "
        f"process(es), {args.rounds} rounds of {args.warmup:.0f} s warm-up + {args.seconds:.0f} s "
        f"per variant, {os.cpu_count()} cores; per run: 1 trigger + {2 * len(STEPS)} step reports"
    )
    async with contextlib.AsyncExitStack() as stack:
        for variant in variants:
            ports[variant], pids[variant] = await stack.enter_async_context(
                serve(FACTORY, envs[variant])
            )
        xacts = {v: await committed_xacts(dbs[v]) for v in variants}
        postmaster = postmaster_pid(Path(env["FLOWLEDGER_DATA_DIR"]))
        # CRUD checks no pipeline; a flowledger variant needs one in its own database.
        pipelines = {v: await make_pipeline(ports[v], keys[v]) for v in variants if v != "crud"}
        pipeline_id = pipelines["flowledger"]
        load = {k: getattr(args, k) for k in ("clients", "loaders", "warmup", "seconds")}
        load["postgres_pid"] = postmaster
        for round_ in range(args.rounds):
            for v in variants[:: -1 if round_ % 2 else 1]:
                target = pipelines.get(v, pipeline_id)
                await run_load(totals[v], pids[v], ports[v], keys[v], target, STEPS, **load)
    await asyncio.sleep(1.0)  # the servers' backends flush their statistics as they exit
    return {
        v: {
            "totals": totals[v],
            "xacts": (await committed_xacts(dbs[v]) - xacts[v]) / totals[v].sent,
        }
        for v in variants
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--loaders", type=int, default=1, help="load processes sharing the clients")
    parser.add_argument(
        "--telemetry",
        nargs="?",
        const="both",
        choices=tuple(TELEMETRY_PARTS),
        help="compare telemetry on (both parts, or one) against off",
    )
    args = parser.parse_args()

    from bench._servers import bench_servers

    with bench_servers() as (_, urls, env), otlp_sink() as (sink, received):
        r = asyncio.run(bench(args, env, urls.database_url, sink if args.telemetry else None))

    variants = TELEMETRY_VARIANTS if args.telemetry else VARIANTS
    rate = {v: r[v]["totals"].ok / r[v]["totals"].seconds for v in variants}
    for v, letter in zip(variants, ("(a)", "(b)"), strict=True):
        label = f"{letter} {TELEMETRY_LABELS[args.telemetry] if v == 'traced' else LABELS[v]}"
        t = r[v]["totals"]
        busy, total, steal = t.machine
        print(
            f"{label + ' commands/s':<34}{rate[v]:>8,.0f}   non-2xx {sum(t.errors.values())}   "
            f"p50 {t.quantile(0.5):5.1f} ms  p99 {t.quantile(0.99):6.1f} ms"
        )
        print(
            f"    server {t.server_cpu_s / t.seconds:4.0%} of a core, "
            f"{t.server_cpu_s * 1000 / max(t.ok, 1):.2f} ms CPU/command; load processes "
            f"~{t.load_cpu_s / t.load_s:.0%}; machine busy {busy / total:.0%} (steal "
            f"{steal / total:.0%}); PG transactions/request {r[v]['xacts']:.2f}"
        )
        others = (t.server_cpu_s - t.server_loop_cpu_s) * 1000 / max(t.ok, 1)
        print(f"    server threads besides the event loop's (span export) {others:.3f} ms/command")
        if t.postgres_cpu_s:
            print(f"    PostgreSQL {t.postgres_cpu_s * 1000 / max(t.ok, 1):.2f} ms CPU/command")
    a, b = (rate[v] for v in variants)
    print(f"a/b = {a / b:.2f}")
    if args.telemetry:
        print(f"OTLP exports received: {received[0]} ({received[1]:,} bytes)")
        print(f"target: overhead <= 10% (a/b >= 0.90): {'met' if a >= 0.9 * b else 'NOT met'}")
    else:
        print(f"target a >= 0.8 x b: {'met' if a >= 0.8 * b else 'NOT met'}")
        print(f"target a >= 2,000/s: {'met' if a >= 2000 else 'NOT met'} ({os.cpu_count()} cores)")
    if os.environ.get("BENCH_PROFILE"):
        import pstats

        print("\nflowledger server, top functions by own time (cProfile):")
        pstats.Stats(os.environ["BENCH_PROFILE"]).sort_stats("tottime").print_stats(25)
    failed = {v: r[v]["totals"] for v in variants if r[v]["totals"].errors}
    for v, t in failed.items():
        print(f"FAILED: {v} answered non-2xx {t.errors}; the first: {t.first_error}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
