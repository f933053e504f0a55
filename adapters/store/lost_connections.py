"""What a lost link to PostgreSQL looks like to asyncpg, and closing a connection it broke."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import asyncpg

T = TypeVar("T")

CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    # asyncpg's protocol state on a link the server dropped mid-operation (a kill -9)
    asyncpg.InternalClientError,
)


async def dropping_broken(conn: asyncpg.Connection, operation: Awaitable[T]) -> T:
    """`operation` on `conn`; a connection that lost its link mid-way is closed, so the pool
    opens a fresh one rather than hand out one whose protocol is stuck mid-operation."""
    try:
        return await operation
    except CONNECTION_ERRORS:
        conn.terminate()
        raise
