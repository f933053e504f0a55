"""What the store's commit notifications say: the positions a commit took and its event types.

The recent ones are kept so that a reader of the feed can tell, without a read, that a range
of positions holds nothing of the types it reads (most readers, on most commits), and so that
a waiter is woken only by a commit that may hold something for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Set
from dataclasses import dataclass

KEPT = 4096
"""Commits remembered; a reader further behind than these reads its range as before."""


@dataclass(frozen=True, slots=True)
class CommitNote:
    first: int
    last: int
    types: frozenset[str] | None
    """None: the notification did not say (too many types, or an older store)."""


def parse(payload: str) -> CommitNote:
    """`first:last:TypeA,TypeB`, `first:last`, or the last position alone (0015 and before).
    Raises ValueError on anything else."""
    parts = payload.split(":", 2)
    if len(parts) == 1:
        last = int(parts[0])
        return CommitNote(last, last, None)
    first, last = int(parts[0]), int(parts[1])
    types = frozenset(parts[2].split(",")) if len(parts) == 3 else None
    return CommitNote(first, last, types)


class RecentCommits:
    """The types of every position in `(start, end]`, as the notifications said them."""

    def __init__(self) -> None:
        self._notes: deque[CommitNote] = deque(maxlen=KEPT)
        self._start: int | None = None
        self._end = 0
        self._waiters: list[tuple[int, Set[str], asyncio.Future[None]]] = []

    def forget(self) -> None:
        """The notifications may have missed commits (the listening link dropped)."""
        self._notes.clear()
        self._start = None
        self._wake_all()

    def known_from(self, head: int) -> None:
        """Every commit after `head` will be notified (LISTEN came before reading `head`)."""
        if self._start is None or self._end < head:
            self._restart(head)

    def add(self, note: CommitNote) -> None:
        if self._start is not None and note.last <= self._end:
            return
        if self._start is None or note.types is None or note.first != self._end + 1:
            self._restart(note.last)
            self._wake_all()
            return
        if len(self._notes) == KEPT:
            self._start = self._notes[0].last
        self._notes.append(note)
        self._end = note.last
        if self._waiters:
            self._wake(note)

    def holds_any(self, after: int, upto: int, types: Set[str]) -> bool | None:
        """Whether `(after, upto]` holds an event of `types`; None when not known."""
        if self._start is None or after < self._start or upto > self._end:
            return None
        for note in reversed(self._notes):
            if note.last <= after:
                break
            if note.first <= upto and not note.types.isdisjoint(types):  # type: ignore[union-attr]
                return True
        return False

    async def wait_for(self, after: int, types: Set[str], timeout: float) -> None:
        """Until a commit past `after` may hold one of `types` (or the notes lose track), or
        `timeout` passes."""
        if self._end > after and self.holds_any(after, self._end, types) is not False:
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (after, types, waiter)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            pass
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _restart(self, position: int) -> None:
        self._notes.clear()
        self._start = self._end = position

    def _wake(self, note: CommitNote) -> None:
        kept = []
        for entry in self._waiters:
            after, types, waiter = entry
            if note.last > after and not note.types.isdisjoint(types):  # type: ignore[union-attr]
                if not waiter.done():
                    waiter.set_result(None)
            else:
                kept.append(entry)
        self._waiters = kept

    def _wake_all(self) -> None:
        for _, _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters = []
