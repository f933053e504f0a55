"""Keyset reads for audits, in batches: one stream by version, the feed by position.

The rows come as stored from the event store's `audit_reader`; reads stop at a head taken
when they start, so a long read in batches sees the history as it stood when it began,
holding no transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import asyncpg
import msgspec

from adapters.audit.envelopes import AuditEvent, DeliveryCache
from adapters.store import audit_reader

BATCH = 1000
"""Rows per round trip when streaming: memory stays bounded by one batch."""

Rows = list[asyncpg.Record]
Read = Callable[[asyncpg.Connection, int, int], Awaitable[Rows]]


class StreamInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What a stream's first event says about it, and how far it goes."""

    stream_type: str
    project_id: str | None
    """From the first event's data (a run's or a pipeline's project), if it names one."""
    head: int
    """Its last version."""


class FeedFilters(msgspec.Struct, frozen=True, kw_only=True):
    """Which events of the global feed: empty tuples and Nones filter nothing."""

    stream_types: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    recorded_after: datetime | None = None
    """Inclusive."""
    recorded_before: datetime | None = None
    """Exclusive."""


async def stream_info(conn: asyncpg.Connection | asyncpg.Pool, stream_id: str) -> StreamInfo | None:
    row = await audit_reader.stream_info(conn, stream_id)
    if row is None:
        return None
    return StreamInfo(
        stream_type=row["stream_type"], project_id=row["project_id"], head=row["head"]
    )


def stream_reader(stream_id: str, upto_version: int) -> Read:
    """Reads the stream's events after a version, up to `upto_version`, in order."""

    async def read(conn: asyncpg.Connection, after: int, limit: int) -> Rows:
        return await audit_reader.stream_page(conn, stream_id, after, upto_version, limit)

    return read


def feed_reader(filters: FeedFilters, upto_position: int) -> Read:
    """Reads the feed's matching events after a position, up to `upto_position`, in order."""

    async def read(conn: asyncpg.Connection, after: int, limit: int) -> Rows:
        return await audit_reader.feed_page(
            conn,
            after,
            upto_position,
            limit,
            stream_types=filters.stream_types,
            types=filters.types,
            recorded_after=filters.recorded_after,
            recorded_before=filters.recorded_before,
        )

    return read


async def read_page(pool: asyncpg.Pool, read: Read, after: int, limit: int) -> list[AuditEvent]:
    """At most `limit` events `read` finds after `after`."""
    async with pool.acquire() as conn:
        return await DeliveryCache().events(conn, await read(conn, after, limit))


async def batches(
    pool: asyncpg.Pool, read: Read, key: str, after: int, *, limit: int | None = None
) -> AsyncIterator[list[AuditEvent]]:
    """Every event `read` finds after `after` (at most `limit`), a batch at a time.

    A connection is held only while a batch is read, never while the caller writes it out,
    so a slow client costs no connection and no open transaction.
    """
    deliveries = DeliveryCache()
    left = limit
    while left is None or left > 0:
        size = BATCH if left is None else min(BATCH, left)
        async with pool.acquire() as conn:
            rows = await read(conn, after, size)
            events = await deliveries.events(conn, rows)
        if events:
            yield events
        if len(rows) < size:
            return
        after = rows[-1][key]
        if left is not None:
            left -= len(rows)
