"""The intake's CPU per delivery, drained alone: deliveries are recorded first, then processed.

    uv run python bench/intake_drain.py [--seconds 8] [--rate 450]

bench/webhooks.py runs the API, the projector and the intake at once on a loaded machine: its
per-process CPU per delivery moves with the batch sizes the load happens to give. Here the
deliveries (the same signed push as there, offered at `--rate` for `--seconds`) are recorded
with the projector running and the intake stopped; then `flowledger intake` starts and drains
them in full batches. Its CPU is counted from its first recorded outcome (so neither its imports
nor its start count) to the last; the projector's (the runs and outcomes it projects) and the
embedded PostgreSQL's from the intake's start until both views caught up.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg
import msgspec

from bench import webhooks
from bench._http_load import serve
from bench._proc_cpu import cpu_seconds
from bench._webhook_setup import SECRET, register_source, setup

PROCESSED = "SELECT count(*) FROM events WHERE type = 'WebhookDeliveryProcessed'"
RECEIVED = "SELECT count(*) FROM events WHERE type = 'WebhookReceived'"


async def caught_up(conn: asyncpg.Connection, name: str) -> None:
    while True:
        head = await conn.fetchval("SELECT max(position) FROM events")
        at = await conn.fetchval(
            "SELECT max(position) FROM projection_checkpoints WHERE name = $1", name
        )
        if at is not None and at >= head:
            return
        await asyncio.sleep(0.1)


async def processed(conn: asyncpg.Connection, at_least: int, poll_s: float) -> int:
    """The outcomes recorded, once there are `at_least`."""
    while True:
        if (found := await conn.fetchval(PROCESSED)) >= at_least:
            return found
        await asyncio.sleep(poll_s)


async def drain(args: argparse.Namespace, env: dict[str, str], server_db: str) -> None:
    key = await setup(env, server_db)
    pgdata = Path(env["FLOWLEDGER_DATA_DIR"]) / "postgres"
    flowledger = {**env, "BENCH_VARIANT": "flowledger"}
    async with serve(webhooks.FACTORY, flowledger) as (port, _):
        source = await register_source(port, key, True)
        async with webhooks.role("projector", env) as projector:
            start = repr(time.time() + 1.0)
            argv = ["-m", "bench.webhooks", str(port), source, repr(args.rate), "32", start]
            load = await asyncio.create_subprocess_exec(
                sys.executable, *argv, "0.0", repr(args.seconds), cwd=ROOT, stdout=-1
            )
            await load.communicate()
            conn = await asyncpg.connect(env["FLOWLEDGER_DATABASE_URL"])
            try:
                await caught_up(conn, "webhook_deliveries")
                n = await conn.fetchval(RECEIVED)
                projector0, pg0 = cpu_seconds(projector.pid), webhooks.pg_cpu_seconds(pgdata)
                began = time.time()
                async with webhooks.role("intake", env) as intake:
                    first = await processed(conn, 1, 0.02)
                    intake0 = cpu_seconds(intake.pid)
                    await processed(conn, n, 0.05)
                    drained, intake_s = time.time() - began, cpu_seconds(intake.pid) - intake0
                    for view in ("runs", "webhook_deliveries"):
                        await caught_up(conn, view)
                    projector_s = cpu_seconds(projector.pid) - projector0
                    pg_s = webhooks.pg_cpu_seconds(pgdata) - pg0
            finally:
                await conn.close()
    load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{n:,} deliveries drained in {drained:.1f} s (load {load_avg})")
    if first >= n:
        raise SystemExit(f"the intake's first batch took all {n:,}: offer more (--seconds, --rate)")
    print(
        f"CPU ms per delivery: intake {intake_s * 1000 / (n - first):.3f} (after its first "
        f"{first}), projector {projector_s * 1000 / n:.3f}, PostgreSQL {pg_s * 1000 / n:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="of deliveries offered")
    parser.add_argument("--rate", type=float, default=450.0, help="deliveries/s offered")
    args = parser.parse_args()

    from adapters.platform.embedded import embedded_servers
    from adapters.platform.settings import load_settings

    os.environ["BENCH_WEBHOOK_SECRET"] = SECRET  # the servers' and the load's
    data_dir = Path(tempfile.mkdtemp(prefix="flowledger-bench-"))
    try:
        base = msgspec.structs.replace(load_settings(os.environ, cwd=data_dir), data_dir=data_dir)
        with embedded_servers(base, log=lambda _: None) as urls:
            env = webhooks.roles_env(urls.nats_url, data_dir)
            asyncio.run(drain(args, env, urls.database_url))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
