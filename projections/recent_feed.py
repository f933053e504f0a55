"""The recent feed, read once for all the projections of one projector process.

One commit wakes every projection that reads one of its types, each over its own connection.
They used to read the same range each (about ten reads a commit in the projector role); now
the first to ask reads it, for the types of every projection the process serves, and the
others take their part of what it read, or wait for that read when it is still under way.
Each projection keeps its own ownership lock, transaction and checkpoint: only the read is
shared.

What is kept: the events of those types in `(lo, hi]`, complete (read below a committed head,
and positions are given in commit order without gaps), at most `KEPT` of them. A range not
covered is read by the projection asking, over its own connection, and joins what is kept when
it touches it. A read that fails is that projection's own (its link); one waiting for it reads
for itself instead.

Events are revealed when read (`reader.read_range`), but for the fields none of those
projections reads (`unread`: a webhook delivery's body), left sealed as stored. Nothing from
before a data subject's erasure is kept once the erasure is seen: a range read later reads
those events again, and shows the erased values as erased.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Collection, Mapping, Set

import asyncpg

from adapters.store.reader import read_range
from domain.envelope import EventEnvelope
from projections.erased_actors import ERASURE

KEPT = 4096
"""Events kept; a projection further behind reads its range alone."""


def _position(event: EventEnvelope) -> int:
    return event.position


class RecentFeed:
    """The recent events of `types` (the union of what the process's projections read)."""

    def __init__(
        self,
        types: Set[str],
        *,
        kept: int = KEPT,
        unread: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self._types = frozenset(types) | {ERASURE}
        self._unread = dict(unread or {})
        """Fields left sealed: only what no projection reading from here reads."""
        self._kept = kept
        self._lo = self._hi = 0
        self._events: list[EventEnvelope] = []
        """Sorted by position: every event of `_types` in `(_lo, _hi]`."""
        self._erased_at = 0
        """Nothing at or before the last erasure seen is kept."""
        self._reading: list[tuple[int, int, asyncio.Future[list[EventEnvelope]]]] = []
        """Reads under way: `(after, upto]`, and what they will give."""
        self.reads = 0
        """Range reads sent to PostgreSQL (for the tests and the curious)."""

    async def read(
        self, conn: asyncpg.Connection, after: int, upto: int, types: Collection[str]
    ) -> list[EventEnvelope]:
        """`reader.read_range(conn, after, upto, types)`, from what is kept when it can be."""
        if not self._types.issuperset(types):
            return await read_range(conn, after, upto, types)
        if self._covers(after, upto):
            return self._slice(after, upto, types)
        # Only what is not kept yet: most often the commit that woke everyone.
        start = self._hi if self._lo <= after <= self._hi < upto else after
        known = self._slice(after, start, types) if start > after else []
        for begun, end, reading in self._reading:
            if begun <= start and upto <= end:
                await asyncio.wait([reading])
                if reading.cancelled():
                    return await read_range(conn, after, upto, types)
                return known + _within(reading.result(), start, upto, types)
        return known + _within(await self._read(conn, start, upto), start, upto, types)

    async def _read(self, conn: asyncpg.Connection, after: int, upto: int) -> list[EventEnvelope]:
        reading: asyncio.Future[list[EventEnvelope]] = asyncio.get_running_loop().create_future()
        entry = (after, upto, reading)
        self._reading.append(entry)
        try:
            self.reads += 1
            events = await read_range(conn, after, upto, self._types, unread=self._unread)
        except BaseException:
            reading.cancel()  # those waiting for it read for themselves
            raise
        finally:
            self._reading.remove(entry)
        reading.set_result(events)
        self._keep(after, upto, events)
        return events

    def _covers(self, after: int, upto: int) -> bool:
        return self._lo <= after and upto <= self._hi and self._hi > self._lo

    def _slice(self, after: int, upto: int, types: Collection[str]) -> list[EventEnvelope]:
        return _within(self._events, after, upto, types)

    def _keep(self, after: int, upto: int, events: list[EventEnvelope]) -> None:
        erasures = [e.position for e in events if e.type == ERASURE]
        if erasures:
            self._erased_at = max(self._erased_at, *erasures)
        if self._hi == self._lo or after > self._hi or upto < self._lo:
            if upto <= self._hi:
                return  # older than what is kept, and apart from it
            self._lo, self._hi, self._events = after, upto, list(events)
        elif after == self._hi:
            self._events.extend(events)
            self._hi = upto
        else:
            head = self._events[: bisect.bisect_right(self._events, after, key=_position)]
            tail = self._events[bisect.bisect_right(self._events, upto, key=_position) :]
            self._events = head + events + tail
            self._lo, self._hi = min(self._lo, after), max(self._hi, upto)
        self._trim()

    def _trim(self) -> None:
        drop = max(len(self._events) - self._kept, 0)
        if self._erased_at > self._lo:
            drop = max(drop, bisect.bisect_right(self._events, self._erased_at, key=_position))
        if drop:
            self._lo = max(self._events[drop - 1].position, self._erased_at)
            del self._events[:drop]
        self._lo = min(max(self._lo, self._erased_at), self._hi)


def _within(
    events: list[EventEnvelope], after: int, upto: int, types: Collection[str]
) -> list[EventEnvelope]:
    first = bisect.bisect_right(events, after, key=_position)
    last = bisect.bisect_right(events, upto, key=_position)
    return [e for e in events[first:last] if e.type in types]
