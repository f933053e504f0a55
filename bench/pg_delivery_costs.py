"""PostgreSQL's cost per webhook delivery, over a fixed number of deliveries: per statement, WAL,
checkpoints, and its backends' CPU by the process they serve.

    uv run python bench/pg_delivery_costs.py [--deliveries 3000] [--warmup 400] [--rate 500]
        [--set name=value ...] [--checkpoint] [--top 25] [--json out.json]

As bench/webhooks.py --intake: the API (one uvicorn worker), `flowledger projector` and
`flowledger intake` against a fresh embedded cluster, the same signed push (every delivery
starts a run). The cluster runs with pg_stat_statements (track = all: statements inside
functions too, besides the call that ran them) and `--set`'s settings (ALTER SYSTEM, then a
restart). `--warmup` deliveries are sent and processed, the statistics reset, then
`--deliveries` are sent by 32 senders paced at `--rate` in all; once the intake has processed
them all and the runs and deliveries views hold them, and 2 s more (lazy checkpoint moves),
everything is read and divided by the deliveries. `--checkpoint` runs CHECKPOINT just before
the measured window, so every page is written whole (full-page image) on its first change.

CPU is /proc's, per backend, named by the process at the other end of its connection (ss);
`exited` is what PostgreSQL's processes that ended in the window used (autovacuum workers).
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg

from bench import webhooks
from bench._databases import statements_servers
from bench._http_client import Client
from bench._http_load import serve
from bench._proc_cpu import cpu_seconds
from bench._webhook_load import AFTER, BODY
from bench._webhook_setup import SECRET, register_source, setup

DONE = "SELECT count(*) FROM events WHERE type = 'WebhookDeliveryProcessed'"
AT = "SELECT coalesce(max(position), 0) FROM projection_checkpoints WHERE name = $1"
STATEMENTS = """
SELECT toplevel, calls, total_exec_time, rows, shared_blks_hit + shared_blks_read AS blocks,
       shared_blks_dirtied AS dirtied, wal_records, wal_fpi, wal_bytes::bigint AS wal_bytes,
       regexp_replace(query, '\\s+', ' ', 'g') AS query
FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' ORDER BY total_exec_time DESC"""
WAL = """SELECT wal_records, wal_fpi, wal_bytes::bigint AS wal_bytes, wal_buffers_full
FROM pg_stat_wal"""
CHECKPOINTS = "SELECT num_timed, num_requested, num_done, buffers_written FROM pg_stat_checkpointer"
IO = """SELECT backend_type, object, sum(writes) AS writes, sum(fsyncs) AS fsyncs
FROM pg_stat_io WHERE writes > 0 OR fsyncs > 0 GROUP BY 1, 2 ORDER BY 1, 2"""
RESETS = (
    "SELECT pg_stat_statements_reset()",
    "SELECT pg_stat_reset_shared('wal')",
    "SELECT pg_stat_reset_shared('checkpointer')",
    "SELECT pg_stat_reset_shared('io')",
    "SELECT pg_stat_reset()",
)
TABLES = """SELECT schemaname || '.' || relname AS relname,
       n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY 1"""


async def send(port: int, path: str, n: int, rate: float, senders: int = 32) -> None:
    """`n` signed deliveries, `senders` at once, paced at `rate` in all."""
    prefix, _, suffix = BODY.partition(AFTER)
    secret, begun = SECRET.encode(), time.time()

    async def one(i: int) -> None:
        client = Client(port, {})
        try:
            for k in range(i, n, senders):
                await asyncio.sleep(max(0.0, begun + k / rate - time.time()))
                delivery = str(uuid.uuid4())
                after = hashlib.sha1(delivery.encode()).hexdigest().encode()
                body = b'%s"after": "%s"%s' % (prefix, after, suffix)
                signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
                client.fixed = (
                    f"X-GitHub-Event: push\r\nX-GitHub-Delivery: {delivery}\r\n"
                    f"X-Hub-Signature-256: sha256={signature}\r\n"
                )
                status, answer = await client.post(path, body)
                assert status == 202, (status, answer[:300])
        finally:
            await client.close()

    await asyncio.gather(*(one(i) for i in range(senders)))


async def settle(conn: asyncpg.Connection, processed: int) -> None:
    """Until `processed` deliveries are processed and both views hold everything, then 2 s."""
    while await conn.fetchval(DONE) < processed:  # noqa: ASYNC110 (polling another process)
        await asyncio.sleep(0.1)
    head = await conn.fetchval("SELECT max(position) FROM events")
    for view in ("runs", "webhook_deliveries"):
        while await conn.fetchval(AT, view) < head:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    await asyncio.sleep(2.0)


def owners() -> dict[int, int]:
    """Local TCP port -> pid of the process holding that socket (the backends' clients)."""
    out = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        fields, pid = line.split(), re.search(r"pid=(\d+)", line)
        if pid and len(fields) >= 4:
            found[int(fields[3].rsplit(":", 1)[1])] = int(pid.group(1))
    return found


async def backends(conn: asyncpg.Connection, names: dict[int, str]) -> dict[int, str]:
    """Every PostgreSQL process's pid -> the role it serves (or its backend type)."""
    ports = owners()
    rows = await conn.fetch("SELECT pid, backend_type, client_port FROM pg_stat_activity")
    found = {}
    for row in rows:
        client = ports.get(row["client_port"] or -1)
        found[row["pid"]] = names.get(client, "other client") if client else row["backend_type"]
    return found


def _perf(out: Path | None, roles: dict[int, str]) -> subprocess.Popen | None:
    """`perf record` of every PostgreSQL process over the window, call graphs included."""
    if out is None:
        return None
    pids = ",".join(map(str, roles))
    argv = ["perf", "record", "-q", "-F", "1999", "-g", "-p", pids, "-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_by_pid(pids) -> dict[int, float]:
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = cpu_seconds(pid)
    return found


def postmaster_cpu(pgdata: Path) -> float:
    """The postmaster's own CPU and its ended children's (reaped: counted in cutime, cstime)."""
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def measure(args: argparse.Namespace, env: dict[str, str], server_db: str) -> dict:
    key = await setup(env, server_db)
    pgdata = Path(env["FLOWLEDGER_DATA_DIR"]) / "postgres"
    async with serve(webhooks.FACTORY, {**env, "BENCH_VARIANT": "flowledger"}) as (port, api):
        source = await register_source(port, key, True)
        path = f"/webhooks/github/{source}"
        conn = await asyncpg.connect(env["FLOWLEDGER_DATABASE_URL"])
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        async with (
            webhooks.role("projector", env) as projector,
            webhooks.role("intake", env) as intake,
        ):
            names = {api: "API", projector.pid: "projector", intake.pid: "intake"}
            await send(port, path, args.warmup, args.rate)
            await settle(conn, args.warmup)
            if args.checkpoint:
                await conn.execute("CHECKPOINT")
            for reset in RESETS:
                await conn.execute(reset)
            roles = await backends(conn, names)
            cpu0, pm0, t0 = cpu_by_pid(roles), postmaster_cpu(pgdata), time.time()
            clients0 = cpu_by_pid(names)
            perf = _perf(args.perf, roles)
            await send(port, path, args.deliveries, args.rate)
            await settle(conn, args.warmup + args.deliveries)
            if perf is not None:
                perf.send_signal(signal.SIGINT)
                perf.wait()
            roles |= await backends(conn, names)
            cpu1, pm1 = cpu_by_pid(roles), postmaster_cpu(pgdata)
            seconds = time.time() - t0
            cpu: dict[str, float] = {"exited": pm1 - pm0}
            for pid, role in roles.items():
                if pid in cpu1:
                    cpu[role] = cpu.get(role, 0.0) + cpu1[pid] - cpu0.get(pid, 0.0)
            found = {
                "settings": args.set, "checkpoint": args.checkpoint, "seconds": seconds,
                "deliveries": args.deliveries, "cpu_s": cpu, "roles": roles,
                "client_cpu_s": {r: cpu_seconds(p) - clients0[p] for p, r in names.items()},
                "statements": [dict(r) for r in await conn.fetch(STATEMENTS)],
                "wal": dict(await conn.fetchrow(WAL)),
                "checkpoints": dict(await conn.fetchrow(CHECKPOINTS)),
                "io": [dict(r) for r in await conn.fetch(IO)],
                "tables": [dict(r) for r in await conn.fetch(TABLES)],
                "size_mb": await conn.fetchval(
                    "SELECT pg_database_size(current_database()) / 1e6"
                ),
                "load": os.getloadavg(),
            }  # fmt: skip
        await conn.close()
    return found


def show(r: dict, top: int) -> None:
    n = r["deliveries"]
    print(f"{n:,} deliveries in {r['seconds']:.1f} s, settings {r['settings']}, "
          f"checkpoint first: {r['checkpoint']}, load {r['load'][0]:.1f}")  # fmt: skip
    cpu = sorted(r["cpu_s"].items(), key=lambda kv: -kv[1])
    total = sum(s for _, s in cpu)
    print(f"PostgreSQL CPU ms/delivery {total * 1000 / n:.3f}: "
          + ", ".join(f"{k} {s * 1000 / n:.3f}" for k, s in cpu if s))  # fmt: skip
    clients = r["client_cpu_s"].items()
    print(
        "their clients' CPU ms/delivery: "
        + ", ".join(f"{k} {s * 1000 / n:.3f}" for k, s in clients)
    )
    w = r["wal"]
    print(f"WAL/delivery: {w['wal_records'] / n:.1f} records, {w['wal_fpi'] / n:.3f} FPI, "
          f"{w['wal_bytes'] / n:,.0f} B; buffers full {w['wal_buffers_full']}; "
          f"checkpoints {r['checkpoints']}; database {r['size_mb']:.0f} MB")  # fmt: skip
    print("io:", ", ".join(f"{x['backend_type']}/{x['object']} w{x['writes']} f{x['fsyncs']}"
                           for x in r["io"]))  # fmt: skip
    print("tables (ins/upd/hot/del per delivery):", ", ".join(
        f"{t['relname']} {t['n_tup_ins'] / n:.2f}/{t['n_tup_upd'] / n:.2f}/"
        f"{t['n_tup_hot_upd'] / n:.2f}/{t['n_tup_del'] / n:.2f}" for t in r["tables"]))  # fmt: skip
    print(f"\n{'top':>3} {'calls':>6} {'us':>7} {'rows':>6} {'blks':>6} {'dirt':>5} "
          f"{'walrec':>6} {'fpi':>5} {'walB':>6}  statement (per delivery)")  # fmt: skip
    for s in r["statements"][:top]:
        print(f"{'T' if s['toplevel'] else ' ':>3} {s['calls'] / n:6.3f} "
              f"{s['total_exec_time'] * 1000 / n:7.1f} {s['rows'] / n:6.2f} "
              f"{s['blocks'] / n:6.1f} {s['dirtied'] / n:5.2f} {s['wal_records'] / n:6.2f} "
              f"{s['wal_fpi'] / n:5.2f} {s['wal_bytes'] / n:6.0f}  {s['query'][:110]}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--rate", type=float, default=500.0, help="deliveries/s offered")
    parser.add_argument("--set", action="append", default=[], help="a setting, name=value")
    parser.add_argument("--checkpoint", action="store_true", help="CHECKPOINT before measuring")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", type=Path, help="also write every figure there")
    parser.add_argument("--perf", type=Path, help="perf record the backends there")
    parser.add_argument("--keep", type=Path, help="the cluster's folder, kept afterwards")
    args = parser.parse_args()

    os.environ["BENCH_WEBHOOK_SECRET"] = SECRET
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="flowledger-pgcost-"))
    try:
        settings = ["pg_stat_statements.track=all", *args.set]
        with statements_servers(data_dir, settings) as (url, nats_url):
            result = asyncio.run(measure(args, webhooks.roles_env(nats_url, data_dir), url))
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(result, default=str))
    show(result, args.top)


if __name__ == "__main__":
    main()
