"""The intake's cost per delivery over a fixed backlog: instructions under callgrind (or CPU
time from /proc with --cpu), and PostgreSQL statements per delivery from pg_stat_statements.

    uv run python bench/callgrind_intake.py [--deliveries 1000] [--warmup 500] [--cpu]
        [--out /tmp/callgrind.intake.out]

The flowledger server of bench/webhooks.py takes `--warmup` signed pushes (the project has a
pipeline every push starts) while the projector runs; then `flowledger intake` starts (under
`valgrind --tool=callgrind --instr-atstart=no`, unless --cpu) and drains them, its start and
first batches not counted. The projector is stopped (it has nothing left to project that the
intake reads), the intake is stopped (SIGSTOP) once idle, `--deliveries` more pushes are
recorded, and the intake is let go on that backlog: it drains it in full batches. Counted:
from letting it go until its checkpoint passed every outcome, less (under callgrind) an idle
stretch as long. Statements: pg_stat_statements reset at the letting go, read after (only the intake
runs then; the bench's own polling is left out). callgrind_annotate on --out says where the
instructions go.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg

from bench import webhooks
from bench._callgrind import control, threads
from bench._databases import statements_servers
from bench._http_load import serve
from bench._proc_cpu import cpu_seconds
from bench._webhook_setup import SECRET, register_source, setup
from bench.callgrind_webhooks import deliveries
from bench.intake_drain import caught_up, processed

STATEMENTS = """SELECT calls, total_exec_time, query FROM pg_stat_statements
WHERE query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE '%count(*) FROM events%'
  AND query NOT LIKE '%max(position)%'
ORDER BY calls DESC"""


def intake_command(args: argparse.Namespace) -> list[str]:
    role = [sys.executable, "-m", "adapters.cli.main", "intake"]
    if args.cpu:
        return role
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes"]
    return [*valgrind, f"--callgrind-out-file={args.out}", *role]


async def measure(args: argparse.Namespace, env: dict[str, str], server_db: str) -> None:
    key = await setup(env, server_db)
    flowledger = {**env, "BENCH_VARIANT": "flowledger"}
    conn = await asyncpg.connect(env["FLOWLEDGER_DATABASE_URL"])
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    intake = None
    async with serve(webhooks.FACTORY, flowledger) as (port, _):
        source = await register_source(port, key, True)
        try:
            async with webhooks.role("projector", env):
                await deliveries(port, source, args.warmup, 8)
                for view in ("pipelines", "webhook_deliveries"):
                    await caught_up(conn, view)
            intake = subprocess.Popen(intake_command(args), cwd=ROOT, env=env)  # noqa: ASYNC220
            await processed(conn, args.warmup, 0.2)
            await caught_up(conn, "webhook_intake")
            await asyncio.sleep(1.0)
            if not args.cpu:
                control(intake.pid, "-i", "on")
            intake.send_signal(signal.SIGSTOP)
            await deliveries(port, source, args.deliveries, 8)
            await conn.execute("SELECT pg_stat_statements_reset()")
            spy = None
            if args.py_spy:
                record = ["py-spy", "record", "-r", "250", "-f", "raw", "--nonblocking"]
                spy = subprocess.Popen(  # noqa: ASYNC220
                    [*record, "-o", args.py_spy, "-p", str(intake.pid)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await asyncio.sleep(1.0)
            cpu0, started = cpu_seconds(intake.pid), time.time()
            intake.send_signal(signal.SIGCONT)
            await processed(conn, args.warmup + args.deliveries, 0.05)
            # The batch's end too (its checkpoint moved, its objects freed), else it would be
            # counted as idle below.
            await caught_up(conn, "webhook_intake")
            seconds, cpu = time.time() - started, cpu_seconds(intake.pid) - cpu0
            statements = await conn.fetch(STATEMENTS)
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            if not args.cpu:
                control(intake.pid, "-d")
                await asyncio.sleep(args.idle)
                control(intake.pid, "-d")
                control(intake.pid, "-i", "off")
        finally:
            if intake is not None:
                intake.send_signal(signal.SIGCONT)
                intake.send_signal(signal.SIGINT)
                intake.wait(120)
            await conn.close()
    n = args.deliveries
    print(f"{n} deliveries drained in {seconds:.1f} s; intake CPU ms per delivery "
          f"{cpu * 1e3 / n:.3f}")  # fmt: skip
    if not args.cpu:
        busy, idle = threads(args.out, 1), threads(args.out, 2)
        net = sum(busy.values()) - sum(idle.values()) / args.idle * seconds
        gross, loop = sum(busy.values()) / n, busy["01"] / n
        print(f"instructions per delivery net of idle: {net / n:,.0f} (gross {gross:,.0f}, "
              f"event loop's thread {loop:,.0f})")  # fmt: skip
    calls = sum(row["calls"] for row in statements)
    print(f"PostgreSQL statements per delivery {calls / n:.3f}, their time "
          f"{sum(row['total_exec_time'] for row in statements) * 1e3 / n:.1f} us:")  # fmt: skip
    for row in statements:
        query = " ".join(row["query"].split())[:90]
        print(f"  {row['calls'] / n:7.3f} {row['total_exec_time'] * 1e3 / n:7.1f} us  {query}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--cpu", action="store_true", help="no callgrind: CPU time from /proc")
    parser.add_argument("--py-spy", help="with --cpu: py-spy's raw samples of the drain, here")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--out", default="/tmp/callgrind.intake.out")
    args = parser.parse_args()
    for old in Path(args.out).parent.glob(f"{Path(args.out).name}*"):
        old.unlink()

    os.environ["BENCH_WEBHOOK_SECRET"] = SECRET
    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-bench-"))
    try:
        with statements_servers(data_dir) as (url, nats_url):
            asyncio.run(measure(args, webhooks.roles_env(nats_url, data_dir), url))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
