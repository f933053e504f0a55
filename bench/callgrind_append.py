"""Instructions per append in the client, under callgrind: bench/append.py's (a), closed-loop
writers appending one-event streams through the group commit.

    uv run python bench/callgrind_append.py [--appends 2400] [--warmup 800] [--writers 16]
        [--max-batch N] [--out /tmp/cg-append.out]

PostgreSQL runs outside valgrind (the embedded one, or FLOWLEDGER_DATABASE_URL's); the client
runs under `valgrind --tool=callgrind --instr-atstart=no`, and collection is on only while the
measured appends run, after a warm-up (imports, the prepared statement, the pool). Far steadier
than throughput on a loaded machine; callgrind_annotate on --out's dump says where they go.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from adapters.store import EventStore, NewEvent
from bench._callgrind import control, totals
from bench._databases import fresh_database
from bench.append import PAYLOAD, server_url


async def appends(store: EventStore, total: int, writers: int) -> None:
    left = [total]

    async def writer() -> None:
        while left[0] > 0:
            left[0] -= 1
            event = NewEvent(type="BenchEvent", data=PAYLOAD)
            await store.append(uuid.uuid4().hex, "bench", [event], expected_version=0)

    await asyncio.gather(*(writer() for _ in range(writers)))


async def client(args: argparse.Namespace) -> None:
    """The process under valgrind: says READY after the warm-up and DONE after the measured
    appends, each time waiting for a line on stdin (the parent switching collection)."""
    options = {"max_batch_events": args.max_batch} if args.max_batch else {}
    async with EventStore(args.client, stream_types={"bench"}, **options) as store:
        await appends(store, args.warmup, args.writers)
        print("READY", flush=True)
        sys.stdin.readline()
        await appends(store, args.appends, args.writers)
        print("DONE", flush=True)
        sys.stdin.readline()


def measure(args: argparse.Namespace, db: str) -> None:
    proc = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={args.out}",
            sys.executable,
            __file__,
            *sys.argv[1:],
            "--client",
            db,
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "READY"
        control(proc.pid, "-i", "on")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "DONE"
        control(proc.pid, "-d")
        control(proc.pid, "-i", "off")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        proc.wait(300)
    finally:
        if proc.poll() is None:
            proc.kill()
    dump = Path(f"{args.out}.1")
    print(
        f"{args.writers} writers, {args.appends} appends measured: "
        f"{totals(dump) / args.appends:,.0f} client instructions per append ({dump})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--appends", type=int, default=2400)
    parser.add_argument("--warmup", type=int, default=800)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--max-batch", type=int, help="events per group-commit call")
    parser.add_argument("--out", default="/tmp/cg-append.out")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # the database: run as the client
    args = parser.parse_args()
    if args.client:
        asyncio.run(client(args))
        return
    with server_url() as (url, _postmaster):
        measure(args, asyncio.run(fresh_database(url, crud=False)))


if __name__ == "__main__":
    main()
