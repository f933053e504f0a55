"""The PostgreSQL connection pool a process shares between its event store and its readers."""

from __future__ import annotations

import asyncpg

ASYNCPG_CONNECT_TIMEOUT_S = 60.0


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on every release: a round trip per use, for session state
    (settings, LISTEN, session advisory locks) that nothing on this pool ever sets. asyncpg
    still rolls back a transaction left open."""


async def open_pool(
    database_url: str, *, max_size: int, timeout: float = ASYNCPG_CONNECT_TIMEOUT_S
) -> asyncpg.Pool:
    # min_size=0: opening needs no connection, so a process can start while the database is
    # down and answer 503 (/ready says why) until it is back.
    return await asyncpg.create_pool(
        database_url, min_size=0, max_size=max_size, timeout=timeout, reset=_keep_session
    )
