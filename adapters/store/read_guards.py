"""Read guards: what a decision only read is checked by the append that records it.

A request reads aggregates it never changes (a webhook's source, an API key, a pipeline) to
decide whether to append, and a caching repository used to read each one's stream tail first, so
that a change written by another process (a rotated secret, a disabled source) was seen at once:
a round trip per request, whose answer was nearly always "nothing new". Inside `guarded_reads`,
`CachingRepository.get_to_read` answers from its kept copy without that read and notes the
(stream, version) it answered with; every append made in the scope carries the notes as guards,
and the store writes nothing if one of them moved (`GuardMoved`): the caller decides again on
fresh state. So no write stands on a state that was stale when it committed.

A scope that ends without an append has no such check: its owner asks `stale_unread` whether what
was taken unread is still current (one batched tail read, on the rare paths that refuse), and
decides again if not. A scope that does not trust the cache (a second attempt) reads as before,
and still notes what it read: the append then also closes the gap between read and commit.
"""

from __future__ import annotations

from contextvars import ContextVar, Token


class NotedReads:
    """The reads of one attempt: stream id -> the version the decision saw."""

    __slots__ = ("read", "trust_cache", "unread")

    def __init__(self, *, trust_cache: bool) -> None:
        self.trust_cache = trust_cache
        self.read: dict[str, int] = {}
        self.unread: dict[str, int] = {}
        """Served from the cache without a read: unchecked until an append (or `stale_unread`)."""

    def note(self, stream_id: str, version: int, *, unread: bool) -> None:
        (self.unread if unread else self.read)[stream_id] = version

    def guards(self) -> tuple[tuple[str, int], ...]:
        if not self.unread:
            return tuple(self.read.items())
        return tuple({**self.read, **self.unread}.items())


_noted: ContextVar[NotedReads | None] = ContextVar("flowledger_noted_reads", default=None)


def noted_reads() -> NotedReads | None:
    """The reads of the scope around the caller, if any."""
    return _noted.get()


def current_guards() -> tuple[tuple[str, int], ...]:
    """What an append made now must carry: the reads noted in the scope around it."""
    noted = _noted.get()
    return () if noted is None else noted.guards()


class guarded_reads:
    """One attempt at a decision whose reads guard its appends. A class, not a generator-based
    context manager: it is entered on every request that uses it."""

    __slots__ = ("_noted", "_token")

    def __init__(self, *, trust_cache: bool = True) -> None:
        self._noted = NotedReads(trust_cache=trust_cache)

    def __enter__(self) -> NotedReads:
        self._token: Token[NotedReads | None] = _noted.set(self._noted)
        return self._noted

    def __exit__(self, *exc_info: object) -> None:
        _noted.reset(self._token)
