"""Stream tail reads of concurrent requests, taken together: one query for many streams.

Every command reads the tail of the aggregates it loads (adapters/store/aggregate_cache.py),
and every request reads the tail of its API key: two round trips per request, each a pool
acquire, a Bind/Execute and its socket writes, for reads that nearly always find nothing.
Here the reads asked for meanwhile wait while a few queries are out, then go together as one
(`reader.read_tails`); many requests with the same key share one read of it.

No read is answered from a query sent before it was asked for: a batch is closed when its
query is sent, and what is asked for later waits for the next. So a read sees every commit
that came before it was asked for, as a query of its own would (a key revoked in another
process is seen by the next request, as before).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Collection

import asyncpg

from adapters.store import reader
from domain.envelope import EventEnvelope

_Wanted = tuple[str, int, asyncio.Future[list[EventEnvelope]]]


class TailReads:
    """`read(stream_id, from_version)` as `EventStore.read_stream` answers it, batched."""

    def __init__(self, pool: asyncpg.Pool, *, max_in_flight: int = 2) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be 1 or more, got {max_in_flight}")
        self._pool = pool
        self._max_in_flight = max_in_flight
        self._waiting: list[_Wanted] = []
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.queries = 0
        """How many queries answered reads (a test's and a bench's figure)."""

    async def read(self, stream_id: str, *, from_version: int = 1) -> list[EventEnvelope]:
        future: asyncio.Future[list[EventEnvelope]] = asyncio.get_running_loop().create_future()
        self._waiting.append((stream_id, from_version, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._waiting and not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            # On the next turn of the loop, so that reads asked for in this one go along. Run
            # in a context of its own: no request's span or request id is the batch's.
            asyncio.get_running_loop().call_soon(self._send, context=contextvars.Context())

    def _send(self) -> None:
        self._scheduled = False
        batch = [wanted for wanted in self._waiting if not wanted[2].done()]
        self._waiting = []
        if not batch:
            return
        self._in_flight += 1
        task = asyncio.get_running_loop().create_task(self._answer(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, batch: Collection[_Wanted]) -> None:
        try:
            wanted: dict[str, int] = {}
            for stream_id, from_version, _ in batch:
                wanted[stream_id] = min(from_version, wanted.get(stream_id, from_version))
            self.queries += 1
            streams = await reader.read_tails(self._pool, wanted)
        except Exception as error:  # each reader gets it, as from a query of its own
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            for _, _, future in batch:
                future.cancel()
            raise
        finally:
            self._in_flight -= 1
            self._schedule()
        for stream_id, from_version, future in batch:
            if not future.done():
                events = streams.get(stream_id, [])
                future.set_result([e for e in events if e.version >= from_version])
