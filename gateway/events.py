"""The gateway's reads of the event store: the head, batches, streams' owners, watch replays.

Every query lives in the store's reader (`adapters.store.reader` and `adapters.store.replay`);
what it hands back is current (upcast), with personal values opened (or `[erased]`); the relay
publishes them sealed, so a live message is opened here too before it reaches a client.
"""

from __future__ import annotations

from collections.abc import Collection

import asyncpg
import msgspec

from adapters.store.personal.cipher import PREFIX
from adapters.store.personal.reveal import reveal
from adapters.store.reader import first_events as first_events
from adapters.store.reader import head as head
from adapters.store.reader import read_range
from adapters.store.replay import PROJECT_IN_DATA as PROJECT_IN_DATA
from adapters.store.replay import replay as replay
from adapters.store.replay import replay_sql as replay_sql
from adapters.streaming.relay.subjects import Owner, learn
from domain.envelope import EventEnvelope

_SEALED = PREFIX.encode()
_envelope = msgspec.json.Decoder(EventEnvelope)


async def opened(pool: asyncpg.Pool, body: bytes) -> bytes:
    """A published envelope with its personal values opened (or `[erased]`), as replays show."""
    if _SEALED not in body:
        return body
    async with pool.acquire() as conn:
        [envelope] = await reveal(conn, [_envelope.decode(body)])
    return msgspec.json.encode(envelope)


async def owners(conn: asyncpg.Connection, streams: Collection[str]) -> dict[str, Owner]:
    """Each stream's owner as the relay names it in subjects (its first event tells)."""
    found = {s: Owner() for s in streams}
    for first in await first_events(conn, streams):
        found[first.stream_id] = learn(first) or Owner()
    return found


async def batch(conn: asyncpg.Connection, after: int, upto: int, limit: int) -> list[EventEnvelope]:
    """Every event in `(after, upto]`, in position order, at most `limit`."""
    return await read_range(conn, after, upto, limit=limit)
