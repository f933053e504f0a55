"""Databases of their own on the session's PostgreSQL, for fixtures that must not share one."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import asyncpg

from adapters.platform.embedded import ServerUrls


@contextlib.asynccontextmanager
async def own_database(server: ServerUrls | str, prefix: str) -> AsyncIterator[str]:
    """A fresh, migrated database on `server` (the session's, or a URL), dropped afterwards."""
    from adapters.store.migrations import migrate  # imported late: written alongside these fixtures

    name = f"{prefix}_{uuid4().hex[:8]}"
    server = server if isinstance(server, str) else server.database_url
    await _execute(server, f'CREATE DATABASE "{name}"')
    try:
        url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
        await migrate(url)
        yield url
    finally:
        await _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def start_projection_at_head(pool: asyncpg.Pool, projection: Any) -> None:
    """Its tables, and a checkpoint at the head: only the test's own events are its to do.

    Starting at 0 would also meet the raw events other tests append to the shared store.
    """
    await pool.execute(f"CREATE SCHEMA rm_{projection.name}")
    await pool.execute(projection.ddl(f"rm_{projection.name}"))
    await pool.execute(
        "INSERT INTO projection_checkpoints (name, version, position, state) "
        "VALUES ($1, $2, (SELECT coalesce(max(position), 0) FROM events), 'stopped')",
        projection.name,
        projection.version,
    )
