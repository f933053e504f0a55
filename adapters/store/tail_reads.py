"""Stream tail reads of concurrent requests, taken together: one query for many streams.

Every command reads the tail of the aggregates it loads (adapters/store/aggregate_cache.py),
and an answer no append confirmed reads the tail of its API key (adapters/http/key_credentials.py):
round trips, each a pool acquire, a Bind/Execute and its socket writes, for reads that nearly
always find nothing.
Here the reads asked for meanwhile wait while a few queries are out, then go together as one
(`reader.read_tails`); many requests with the same key share one read of it.

No read is answered from a query sent before it was asked for (`read_batches.py`): a key
revoked in another process is seen by the next request, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from adapters.store import reader
from adapters.store.read_batches import ReadBatches
from domain.envelope import EventEnvelope


class TailReads:
    """`read(stream_id, from_version)` as `EventStore.read_stream` answers it, batched."""

    def __init__(self, pool: asyncpg.Pool, *, max_in_flight: int = 2) -> None:
        self._pool = pool
        self._batches: ReadBatches[tuple[str, int], list[EventEnvelope]] = ReadBatches(
            self._read_all, max_in_flight=max_in_flight
        )

    @property
    def queries(self) -> int:
        """How many queries answered reads (a test's and a bench's figure)."""
        return self._batches.queries

    async def read(self, stream_id: str, *, from_version: int = 1) -> list[EventEnvelope]:
        return await self._batches.read((stream_id, from_version))

    async def _read_all(self, asks: Sequence[tuple[str, int]]) -> list[list[EventEnvelope]]:
        wanted: dict[str, int] = {}
        for stream_id, from_version in asks:
            wanted[stream_id] = min(from_version, wanted.get(stream_id, from_version))
        streams = await reader.read_tails(self._pool, wanted)
        return [
            [e for e in streams.get(stream_id, []) if e.version >= from_version]
            for stream_id, from_version in asks
        ]
