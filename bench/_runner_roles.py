"""The runner bench's roles as processes of their own: started, awaited, and what each costs
(CPU, PostgreSQL transactions)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from bench._append_meters import server_cpu
from bench._role_processes import role_processes

LABEL = "bench"


def role_cpu(pids: dict[str, int], postmaster: int | None) -> dict[str, float]:
    """CPU seconds so far of each role (with its reaped children) and of PostgreSQL."""
    found = {}
    for role, pid in pids.items():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[role] = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    if postmaster is not None:
        found["postgres"] = server_cpu(postmaster)
    return found


async def transactions(database_url: str) -> int:
    """Transactions committed in the bench's database so far (a statement alone is one)."""
    return await _counter(
        database_url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )


async def checkpoint_moves(database_url: str) -> int:
    """Rows of `projection_checkpoints` updated so far: the projections' batches (one move
    each, with or without a transaction of its own) and their periodic saves."""
    return await _counter(
        database_url,
        "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'projection_checkpoints'",
    )


async def _counter(database_url: str, query: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def postmaster_pid(data_dir: Path, database_url: str) -> int | None:
    """The embedded PostgreSQL's postmaster, when the bench started it."""
    if os.environ.get("FLOWLEDGER_DATABASE_URL"):
        return None
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    return None


@contextlib.asynccontextmanager
async def processes(
    env: dict[str, str], runners: int, concurrency: int, token: str, logs: Path
) -> AsyncIterator[dict[str, int]]:
    """The roles, each `python -m adapters.cli.main <role>`; killed at the end."""
    commands = [["api"], ["projector"], ["relay"], ["dispatcher"]] + [
        [
            "runner",
            "--name",
            f"bench-{i}",
            "--labels",
            LABEL,
            "--concurrency",
            str(concurrency),
            "--token",
            token,
        ]
        for i in range(runners)
    ]
    async with role_processes(env, commands, logs) as started:
        yield {f"{c[0]}-{i}" if c[0] == "runner" else c[0]: p.pid
               for i, (c, p) in enumerate(zip(commands, started, strict=True))}  # fmt: skip
