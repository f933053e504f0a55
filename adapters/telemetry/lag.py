"""The lag gauges, read from the checkpoints every role keeps in PostgreSQL, at each scrape."""

from __future__ import annotations

import asyncio

import asyncpg

from adapters.store import reader
from adapters.telemetry.metrics import (
    DATABASE_UP,
    EVENT_HEAD,
    PROJECTION_LAG_EVENTS,
    PROJECTION_LAG_SECONDS,
    PROJECTION_POSITION,
    RELAY_LAG_EVENTS,
    RELAY_POSITION,
)
from projections.status import projection_status


async def refresh_from_database(pool: asyncpg.Pool, timeout_s: float = 2.0) -> None:
    """Set the lag gauges from the checkpoints every role keeps in PostgreSQL.

    With the database unreachable, `flowledger_database_up` says so and the lag gauges keep
    their last values: a scrape must still show this process's own counters.
    """
    try:
        async with asyncio.timeout(timeout_s), pool.acquire() as conn:
            statuses = await projection_status(conn)
            relays = await conn.fetch("SELECT name, position FROM relay_checkpoints")
            # Every projection's status carries the head; without any, ask for it.
            head = statuses[0].head if statuses else await reader.head(conn)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        DATABASE_UP.set(0)
        return
    DATABASE_UP.set(1)
    EVENT_HEAD.set(head)
    for status in statuses:
        PROJECTION_POSITION.labels(status.name).set(status.position)
        PROJECTION_LAG_EVENTS.labels(status.name).set(status.lag_events)
        PROJECTION_LAG_SECONDS.labels(status.name).set(status.lag_seconds)
    for row in relays:
        RELAY_POSITION.labels(row["name"]).set(row["position"])
        RELAY_LAG_EVENTS.labels(row["name"]).set(max(head - row["position"], 0))
