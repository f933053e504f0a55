"""One projector's range reads, taken once for all the projections it serves.

Every commit of the store wakes every projection of a projector, and each read the same new
range for its own event types: one round trip per projection per commit (about forty in the
`projector` role), nearly all of them finding nothing. Here the first projection to ask for
the range after a position reads it for the types of all of them; the others at that
position take the same read, each keeping its own types.

A range read below a head is complete (positions are given out in commit order), so a
projection may take a range that ends short of, or beyond, the head it saw: it moves its
checkpoint to where that range ends. A read is shared only while it is fresh (`FRESH_S`), so
a projection never applies a value opened long before (a personal value erased meanwhile).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection, Sequence

import asyncpg

from adapters.store.reader import read_range
from domain.envelope import EventEnvelope

FRESH_S = 1.0
"""How long after it was asked for a read may serve another projection."""
KEPT = 8
"""Reads kept, by the position they start after (projections at different positions)."""


class _Read:
    def __init__(self, upto: int, at: float) -> None:
        self.upto = upto
        self.at = at
        self.events: asyncio.Future[list[EventEnvelope]] = (
            asyncio.get_running_loop().create_future()
        )


class SharedReads:
    """`read(conn, after, upto, types)`: the events of `types` in `(after, end]`, and `end`."""

    def __init__(self, types: Collection[str]) -> None:
        self._types = frozenset(types)
        self._reads: OrderedDict[int, _Read] = OrderedDict()

    async def read(
        self, conn: asyncpg.Connection, after: int, upto: int, types: Collection[str]
    ) -> tuple[list[EventEnvelope], int]:
        now = asyncio.get_running_loop().time()
        shared = self._reads.get(after)
        if shared is not None and now - shared.at < FRESH_S:
            try:
                events = await asyncio.shield(shared.events)
            except Exception:  # its reader's connection failed: read on this one
                pass
            else:
                return _of(events, types), shared.upto
        own = _Read(upto, now)
        self._reads[after] = own
        self._reads.move_to_end(after)
        while len(self._reads) > KEPT:
            self._reads.popitem(last=False)
        try:
            events = await read_range(conn, after, upto, self._types)
        except BaseException as error:
            if self._reads.get(after) is own:
                del self._reads[after]
            failure = error if isinstance(error, Exception) else ConnectionError("read abandoned")
            own.events.set_exception(failure)
            own.events.exception()  # retrieved: those waiting read on their own instead
            raise
        own.events.set_result(events)
        return _of(events, types), upto


def _of(events: Sequence[EventEnvelope], types: Collection[str]) -> list[EventEnvelope]:
    return [event for event in events if event.type in types]
