"""Chaos: `flowledger up` under a steady command load while its servers are killed at random.

    uv run python bench/chaos.py [--seconds 60] [--clients 4] [--gap 4 10] [--seed N]
                                 [--targets postgres nats projector]

Starts `up` on a fresh embedded data folder, then keeps `--clients` writers creating projects
(each with its Idempotency-Key, retried on 503 and lost connections until acknowledged). At
random moments, `--gap` seconds apart, it kills one of: the embedded PostgreSQL (kill -9),
the embedded NATS (kill -9), or a projector's connection (pg_terminate_backend on the backend
holding a projection's ownership lock), and times how long /ready takes to answer 200 again
(for a projector's connection: and another connection to own the projection again).

Afterwards it compares what the clients were told with the ledger: acknowledged writes, those
found in the store, duplicates; the projects view and the relay's JetStream stream (every
event exactly once); the views' final lag. Targets: all found, 0 duplicated, /ready back
within 10 s of each kill, final lag 0. Linux only (it finds the servers through /proc).
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    # As a script, bench/ leads sys.path and bench/commands.py would shadow `commands`.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg

from bench._figures import verdict
from projections.catalog import ALL
from projections.checkpoints import owner_key
from tests.e2e.healing import (
    Load,
    admin_key,
    audit,
    caught_up,
    is_gone,
    nats_url,
    server_pid,
    start_up,
)

READY_WITHIN_S = 90
RECOVER_TARGET_S = 10.0
GIVE_UP_S = 60.0
TARGETS = ("postgres", "nats", "projector")


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_ready(up: subprocess.Popen[bytes], port: int, within_s: float) -> float | None:
    """Seconds until /ready answers 200, None if it did not within `within_s` (or `up` ended)."""
    start = time.monotonic()
    while time.monotonic() - start < within_s:
        if up.poll() is not None:
            return None
        if ready(port):
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def database_url(log: Path) -> str:
    for line in log.read_text().splitlines():
        if line.strip().startswith("database"):
            return line.split()[-1]
    raise LookupError("`up` printed no database URL")


async def owner_of(conn: asyncpg.Connection, name: str) -> int | None:
    """The backend holding projection `name`'s ownership lock, if any."""
    key = owner_key(name) & 0xFFFF_FFFF_FFFF_FFFF  # pg_locks shows it as two unsigned halves
    return await conn.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1",
        key >> 32,
        key & 0xFFFF_FFFF,
    )


async def terminate_projector(url: str, rng: random.Random) -> str:
    """pg_terminate_backend on the connection holding one projection's ownership lock; returns
    once another connection holds it again."""
    name = rng.choice([p.name for p in ALL])
    conn = await asyncpg.connect(url)
    try:
        pid = await owner_of(conn, name)
        if pid is None:
            return f"projection {name}: no owner connection found"
        await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        start = time.monotonic()
        while (owner := await owner_of(conn, name)) in (None, pid):
            if time.monotonic() - start > GIVE_UP_S:
                return f"projection {name}: backend {pid} terminated; NOT owned again"
            await asyncio.sleep(0.1)
        took = time.monotonic() - start
        return f"projection {name}: backend {pid} terminated; owned by {owner} after {took:.1f}s"
    finally:
        await conn.close()


def kill(target: str, data_dir: Path, url: str, rng: random.Random) -> str:
    if target == "projector":
        return asyncio.run(terminate_projector(url, rng))
    pid = server_pid(data_dir, "postgres" if target == "postgres" else "nats-server")
    os.kill(pid, signal.SIGKILL)
    return f"{target}: pid {pid} killed"


def chaos(args: argparse.Namespace, up: subprocess.Popen[bytes], data_dir: Path, port: int,
          log: Path) -> dict[str, list[float | None]]:  # fmt: skip
    """Kill at random until `--seconds` have passed; the recovery time of each kill."""
    rng = random.Random(args.seed)
    url = database_url(log)
    recoveries: dict[str, list[float | None]] = {target: [] for target in TARGETS}
    end = time.monotonic() + args.seconds
    while time.monotonic() + args.gap[0] < end:
        time.sleep(rng.uniform(*args.gap))
        target = rng.choice(args.targets)
        killed_at = time.monotonic()
        what = kill(target, data_dir, url, rng)
        time.sleep(0.5)  # /ready must have a chance to notice
        took = wait_ready(up, port, GIVE_UP_S)
        # For a projector's connection: from the kill until the lock is owned again and
        # /ready answers 200, whichever comes last.
        took = None if took is None else time.monotonic() - killed_at
        recoveries[target].append(took)
        shown = "NOT back" if took is None else f"/ready 200 after {took:.1f}s"
        print(f"  {time.monotonic() - end + args.seconds:5.1f}s  {what}; {shown}", flush=True)
        if took is None:
            break
    return recoveries


def report(recoveries: dict[str, list[float | None]], found, final_lag: float, load: Load,
           up_code: int | None, traceback: bool) -> None:  # fmt: skip
    times = [t for ts in recoveries.values() for t in ts]
    longest = max((t if t is not None else float("inf") for t in times), default=0.0)
    print()
    print(f"acknowledged writes   {found.acknowledged}  (retries on 503 / lost connections: "
          f"{load.retries}; refused: {len(load.failures)})")  # fmt: skip
    all_found = found.found == found.acknowledged
    print(f"writes found          {found.found}  ({verdict(all_found)}: all found)")
    print(f"duplicated            {found.duplicated}  ({verdict(found.duplicated == 0)}: 0)")
    print(f"projects view rows    {found.view_rows}  "
          f"({verdict(found.view_rows == found.acknowledged)}: = acknowledged)")  # fmt: skip
    stream_ok = found.stream_missing == found.stream_duplicated == 0
    print(f"JetStream             missing {found.stream_missing}, duplicated "
          f"{found.stream_duplicated}  ({verdict(stream_ok)}: every event once)")  # fmt: skip
    for target, ts in recoveries.items():
        shown = ", ".join("never" if t is None else f"{t:.1f}" for t in ts) or "-"
        print(f"/ready back after     {target}: {shown} s")
    print(f"longest recovery      {longest:.1f} s  "
          f"({verdict(longest < RECOVER_TARGET_S)}: < {RECOVER_TARGET_S:g} s)")  # fmt: skip
    print(f"views' final lag      {final_lag:g} events  ({verdict(final_lag == 0)}: 0)")
    print(f"`up` on SIGTERM       exit {up_code}, {'a' if traceback else 'no'} traceback")


async def lag(url: str) -> int:
    """Events between the head and the furthest-behind view."""
    conn = await asyncpg.connect(url)
    try:
        head = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
        lowest = await conn.fetchval(
            "SELECT min(position) FROM projection_checkpoints WHERE name = ANY($1)",
            [p.name for p in ALL],
        )
        return head - (lowest or 0)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs")
    parser.add_argument("--clients", type=int, default=4, help="concurrent writers")
    parser.add_argument("--gap", type=float, nargs=2, default=(4.0, 10.0),
                        metavar=("MIN", "MAX"), help="seconds between kills")  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="for a repeatable run")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS),
                        help="what may be killed (default: all)")  # fmt: skip
    args = parser.parse_args()
    if sys.platform != "linux":
        sys.exit("chaos.py finds the embedded servers through /proc: Linux only")

    # Not under the user's temp: as root, postgres runs as another user (see tests/conftest).
    folder = Path(tempfile.mkdtemp(prefix="flowledger-chaos-"))
    data_dir, log, port = folder / "data", folder / "up.log", _free_port()
    # Warnings and errors only: the figures are the system's, not the access log's.
    up = start_up(folder, data_dir, port, log, FLOWLEDGER_LOG_LEVEL="WARNING")
    try:
        if wait_ready(up, port, READY_WITHIN_S) is None:
            sys.exit(f"`up` did not get ready:\n{log.read_text()}")
        url = database_url(log)
        load = Load(f"http://127.0.0.1:{port}", admin_key(log), clients=args.clients)
        print(f"chaos: {args.seconds:g}s of load from {args.clients} clients, kills every "
              f"{args.gap[0]:g}-{args.gap[1]:g}s (seed {args.seed})", flush=True)  # fmt: skip
        load.start()
        try:
            recoveries = chaos(args, up, data_dir, port, log)
        finally:
            load.stop()
        if not asyncio.run(caught_up(url, within_s=60)):
            print("the views or the relay did NOT reach the head within 60 s")
        found = asyncio.run(audit(url, nats_url(log), load))
        final_lag = asyncio.run(lag(url))
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            code: int | None = up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            code = None
    text = log.read_text()
    report(recoveries, found, final_lag, load, code, "Traceback" in text)
    reaped = all(is_gone(pid) for pid in _killed_pids(text))
    print(f"killed servers reaped {verdict(reaped)}")
    if os.environ.get("CHAOS_KEEP"):
        print(f"log and data kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def _killed_pids(text: str) -> list[int]:
    pids = []
    for line in text.splitlines():
        if "ended with" in line and "(pid " in line:
            pids.append(int(line.split("(pid ")[1].split(")")[0]))
    return pids


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
