"""PostgreSQL's instructions per `append_batch` call: one backend under callgrind, serial caller.

    uv run python bench/pg_call_instructions.py [--sizes 1,8,16] [--calls 80] [--rounds 4]
        [--variant path/to/function.sql ...] [--keep /tmp/cg]

A fresh embedded cluster, migrated and given 20,000 events, runs under `valgrind
--tool=callgrind`; each backend writes its own profile when it exits. A backend that makes W
warm-up calls and N measured ones, less a backend that makes the W alone, over N, is the steady
cost of one call (planning, caches and the connection's start cancel out): the backend's
user-space instructions for the call, its commit included, the kernel's part of the commit's WAL
write and flush not. Each batch appends one event to each of `size` new streams, as
bench/append.py's writers do. A `--variant` file holds a `CREATE FUNCTION append_batch(...)` (a
migration's definition); it is created under another name and measured alternately with the
migrated function, round by round. Steadier than CPU time on a loaded machine (rounds agree
within a few percent). With `--keep`, the profiles stay there for `callgrind_annotate
--inclusive=yes`.
"""

# ruff: noqa: E402  (the imports after the sys.path fix below)
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import asyncpg

from adapters.platform.embedded import EmbeddedPostgres
from adapters.platform.embedded.postgres import SYSTEM_USER, _bin_dir
from adapters.store.append_batch import PendingAppend, batch_arguments
from adapters.store.encoding import NewEvent, prepare_events
from adapters.store.migrations import migrate
from bench._http_load import free_port
from domain.envelope import EventMetadata

PAYLOAD = {"step": "build", "exit_code": 0, "duration_ms": 1234, "runner": "linux-1"}
WARM_UP = 12
PREFILL = """
ALTER TABLE events SET (autovacuum_enabled = off);
INSERT INTO events (position, event_id, stream_id, stream_type, version, type, schema_version,
                    recorded_at, data, metadata, hash)
SELECT n, gen_random_uuid(), 'prefill-' || n, 'bench', 1, 'BenchEvent', 1, now(),
       '{"step": "build"}', '{}', sha256(int8send(n))
  FROM generate_series(1, 20000) AS n
"""
"""An events table of some depth, as a store in use has: its indexes' last pages full."""
CALL = "SELECT * FROM {}(" + ", ".join(f"${n}" for n in range(1, 16)) + ")"


def batch(size: int) -> tuple[object, ...]:
    """append_batch's arguments for `size` appends of one event, each to a new stream."""
    loop = asyncio.get_running_loop()
    event = [NewEvent(type="BenchEvent", data=PAYLOAD)]
    return batch_arguments(
        [
            PendingAppend(
                stream_id=uuid.uuid4().hex,
                stream_type="bench",
                expected_version=0,
                idempotency_key=None,
                events=prepare_events(
                    events=event, metadata=EventMetadata(), max_event_bytes=1 << 20
                ),
                future=loop.create_future(),
            )
            for _ in range(size)
        ]
    )


@contextlib.contextmanager
def cluster_under_callgrind(
    data_dir: Path, profiles: Path, *, prepare: bool = True
) -> Iterator[str]:
    """A migrated cluster in `data_dir` (its events prefilled, unless `prepare` is False: a
    cluster kept from a bench), then its postmaster under callgrind; its URL."""
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    try:
        if prepare:
            asyncio.run(migrate(url))
            asyncpg_sql(url, PREFILL)
            asyncpg_sql(url, "VACUUM ANALYZE events")
    finally:
        server.stop()
    port = free_port()
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        f"--callgrind-out-file={profiles}/cg.%p",
        str(_bin_dir() / "postgres"),
        *("-D", str(server.pgdata), "-p", str(port), "-h", "127.0.0.1", "-k", str(profiles)),
        *("-c", "shared_buffers=128MB", "-c", "io_method=sync", "-c", "autovacuum=off"),
    ]
    if os.geteuid() == 0:  # the cluster belongs to the embedded server's own user
        shutil.chown(profiles, SYSTEM_USER)
        command = ["runuser", "-u", SYSTEM_USER, "--", *command]
    log = (data_dir / "callgrind-server.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = url.rsplit(":", 1)[0] + f":{port}/" + url.rsplit("/", 1)[1]
        deadline = time.monotonic() + 120
        while not ready(url):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL under callgrind did not start; see {log.name}")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = int((server.pgdata / "postmaster.pid").read_text().split()[0])
            os.kill(postmaster, signal.SIGINT)  # fast shutdown; runuser passes nothing on
        proc.wait(timeout=120)
        log.close()


def asyncpg_sql(url: str, query: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(query)
        finally:
            await conn.close()

    asyncio.run(run())


def ready(url: str) -> bool:
    try:
        asyncpg_sql(url, "SELECT 1")
    except (OSError, asyncpg.PostgresError):
        return False
    return True


def instructions(profiles: Path, pid: int) -> int:
    """The backend's total, from the profile it wrote on exit."""
    path = profiles / f"cg.{pid}"
    for _ in range(600):
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith(("totals:", "summary:")):
                    return int(line.split()[1])
        time.sleep(0.1)
    raise RuntimeError(f"backend {pid} wrote no profile")


async def backend(url: str, profiles: Path, function: str, size: int, calls: int) -> int:
    """Instructions of a backend that makes WARM_UP + `calls` calls of `size` appends."""
    conn = await asyncpg.connect(url)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        statement = await conn.prepare(CALL.format(function))
        for arguments in [batch(size) for _ in range(WARM_UP + calls)]:
            rows = await statement.fetch(*arguments)
            assert all(row["status"] == "ok" for row in rows), rows
    finally:
        await conn.close()
    return instructions(profiles, pid)


async def measure(url: str, profiles: Path, args: argparse.Namespace) -> None:
    functions = {"migrated": "append_batch"}
    conn = await asyncpg.connect(url)
    try:
        for n, (label, sql) in enumerate(args.variant_sql, start=1):
            name = f"append_batch_variant{n}"
            await conn.execute(sql.replace("FUNCTION append_batch(", f"FUNCTION {name}(", 1))
            functions[label] = name
    finally:
        await conn.close()
    sizes = [int(s) for s in args.sizes.split(",")]
    per_call: dict[tuple[str, int], list[float]] = {}
    order = list(functions.items())
    for round_ in range(args.rounds):
        for size in sizes:
            for label, function in order if round_ % 2 == 0 else order[::-1]:
                alone = await backend(url, profiles, function, size, 0)
                full = await backend(url, profiles, function, size, args.calls)
                per_call.setdefault((label, size), []).append((full - alone) / args.calls)
    for size in sizes:
        first = statistics.median(per_call[(order[0][0], size)])
        for label, _ in order:
            rounds = per_call[(label, size)]
            median = statistics.median(rounds)
            each = " ".join(f"{r / 1000:.0f}k" for r in rounds)
            print(
                f"batch of {size:>3}  {label:<40} {median / 1000:8.1f}k instructions per call"
                f" ({median / first - 1:+.1%}; rounds {each})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,8,16")
    parser.add_argument("--calls", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--variant", action="append", default=[], help="a CREATE FUNCTION file")
    parser.add_argument("--keep", type=Path, help="keep the profiles in this folder")
    args = parser.parse_args()
    args.variant_sql = [(Path(path).name, Path(path).read_text()) for path in args.variant]
    with tempfile.TemporaryDirectory(prefix="flowledger-pgcall-") as tmp:
        profiles = args.keep or Path(tmp) / "profiles"
        profiles.mkdir(parents=True, exist_ok=True)
        with cluster_under_callgrind(Path(tmp), profiles) as url:
            asyncio.run(measure(url, profiles, args))


if __name__ == "__main__":
    main()
