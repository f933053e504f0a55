"""The `dispatcher` role's own step: the start-up republish (adapters.bootstrap runs it, then
the dispatch process manager and the reaper).

On start it publishes again every job recorded and not yet reported running: a dispatcher
that died between recording a job and publishing it loses nothing. JetStream drops a copy
whose `Nats-Msg-Id` it saw within FLOWLEDGER_DISPATCH_DUPLICATE_WINDOW_S; after a longer
outage a second copy may reach the queue, and the runner taking it is refused (409) when it
reports the attempt running, so it is still run once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from adapters.dispatch.jobs import JobPublisher
from adapters.dispatch.process import NAME, publish_row, waiting_jobs
from projections.projection import live_schema

log = logging.getLogger(__name__)

REAP_EVERY_MAX_S = 5.0
"""The reaper looks at least this often, however long the heartbeat interval."""


async def republish_waiting(
    pool: asyncpg.Pool, publisher: JobPublisher, *, schema: str = live_schema(NAME)
) -> int:
    """Publish again every job that waits for a runner; how many."""
    try:
        rows = await waiting_jobs(pool, schema)
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0  # never dispatched anything yet
    for row in rows:
        await publish_row(publisher, row)
    if rows:
        log.info("dispatcher: published %d waiting jobs again", len(rows))
    return len(rows)


async def republish_until_done(
    pool: asyncpg.Pool, publisher: JobPublisher, stop: asyncio.Event
) -> None:
    """Republish the waiting jobs, retrying while PostgreSQL is out of reach."""
    delay = 0.5
    while not stop.is_set():
        try:
            await republish_waiting(pool, publisher)
            return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("dispatcher: republishing waiting jobs failed: %s; retrying", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 5.0)
