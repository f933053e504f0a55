"""A bench's own databases on the server it runs against: created fresh and migrated, queried on
a fresh backend, their commit counter, the embedded server's postmaster, and embedded servers
whose PostgreSQL keeps pg_stat_statements."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench._crud_app import CRUD_TABLE


async def fresh_database(server: str, crud: bool) -> str:
    """A migrated database: one per variant, so that PostgreSQL's counters are per variant."""
    from adapters.store.migrations import migrate

    name = f"flowledger_bench_{uuid.uuid4().hex[:8]}"
    await sql(server, f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    await migrate(url)
    if crud:
        await sql(url, CRUD_TABLE)
    return url


async def sql(url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)  # a fresh backend each time: no cached stats snapshot
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def committed_xacts(url: str) -> int:
    query = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    return (await sql(url, query))[0][0]


def postmaster_pid(data_dir: Path) -> int | None:
    """The embedded PostgreSQL's postmaster, whose backends serve both variants; None when the
    bench runs against a server it did not start."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    return int(pid_file.read_text().split()[0]) if pid_file.exists() else None


@contextlib.contextmanager
def statements_servers(data_dir: Path, settings: Sequence[str] = ()) -> Iterator[tuple[str, str]]:
    """Embedded PostgreSQL and NATS in `data_dir`: (database URL, NATS URL). PostgreSQL is
    restarted once with pg_stat_statements preloaded and `settings` ("name=value") set by ALTER
    SYSTEM, for the benches that read statements per unit of work."""
    from adapters.platform.embedded import EmbeddedNats, EmbeddedPostgres

    postgres, nats = EmbeddedPostgres(data_dir), EmbeddedNats(data_dir)
    try:
        url = postgres.start()
        for setting in ["shared_preload_libraries=pg_stat_statements", *settings]:
            name, _, value = setting.partition("=")
            asyncio.run(_alter_system(url, name, value))
        postgres.stop()
        url = postgres.start()
        yield url, nats.start()
    finally:
        nats.stop()
        postgres.stop()


async def _alter_system(url: str, name: str, value: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    finally:
        await conn.close()
