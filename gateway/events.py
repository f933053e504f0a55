"""The gateway's reads of the event store: the head, batches, streams' owners, watch replays.

Every query lives in the store's reader (`adapters.store.reader` and `adapters.store.replay`);
what it hands back is current (upcast), as the relay publishes it.
"""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from adapters.store.reader import first_events as first_events
from adapters.store.reader import head as head
from adapters.store.reader import read_range
from adapters.store.replay import PROJECT_IN_DATA as PROJECT_IN_DATA
from adapters.store.replay import replay as replay
from adapters.store.replay import replay_sql as replay_sql
from adapters.streaming.relay.subjects import Owner, learn
from domain.envelope import EventEnvelope


async def owners(conn: asyncpg.Connection, streams: Collection[str]) -> dict[str, Owner]:
    """Each stream's owner as the relay names it in subjects (its first event tells)."""
    found = {s: Owner() for s in streams}
    for first in await first_events(conn, streams):
        found[first.stream_id] = learn(first) or Owner()
    return found


async def batch(conn: asyncpg.Connection, after: int, upto: int, limit: int) -> list[EventEnvelope]:
    """Every event in `(after, upto]`, in position order, at most `limit`."""
    return await read_range(conn, after, upto, limit=limit)
