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

A request's credential (its API key) is a read the whole request stands on (`standing_read`):
taken before any command, often from the cache unread, and carried by every append made for the
request, whatever attempt or scope it belongs to. Its owner (the HTTP authentication) checks it
before an answer no such append confirmed (`StandingRead.confirmed`) is sent.
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

    def holds(self, stream_id: str) -> bool:
        return stream_id in self.read or stream_id in self.unread

    def guards(self) -> tuple[tuple[str, int], ...]:
        if not self.unread:
            return tuple(self.read.items())
        return tuple({**self.read, **self.unread}.items())


_noted: ContextVar[NotedReads | None] = ContextVar("flowledger_noted_reads", default=None)


def noted_reads() -> NotedReads | None:
    """The reads of the scope around the caller, if any."""
    return _noted.get()


class StandingRead:
    """A read a whole request stands on (its credential): `stream_id` at `version`, once set.
    `confirmed` once an append that carried it committed: the stream was still at `version`
    when that append took the store's lock."""

    __slots__ = ("confirmed", "stream_id", "version")

    def __init__(self) -> None:
        self.stream_id: str | None = None
        self.version = 0
        self.confirmed = False

    def stand_on(self, stream_id: str, version: int) -> None:
        self.stream_id, self.version, self.confirmed = stream_id, version, False


_standing: ContextVar[StandingRead | None] = ContextVar("flowledger_standing_read", default=None)


def current_guards() -> tuple[tuple[str, int], ...]:
    """What an append made now must carry: the reads noted in the scope around it, and the
    request's standing read."""
    noted = _noted.get()
    guards = () if noted is None else noted.guards()
    standing = _standing.get()
    if standing is None or standing.stream_id is None:
        return guards
    guard = (standing.stream_id, standing.version)
    return guards if guard in guards else (*guards, guard)


def noted_standing() -> StandingRead | None:
    """The standing read of the request around the caller, if any."""
    return _standing.get()


def confirm_standing(guards: tuple[tuple[str, int], ...]) -> None:
    """An append carrying `guards` committed (not a replay): the standing read among them, if
    any, held at that commit."""
    standing = _standing.get()
    if standing is not None and (standing.stream_id, standing.version) in guards:
        standing.confirmed = True


class standing_read:
    """The scope of one request: what its credential's read is, once known (`stand_on`)."""

    __slots__ = ("_read", "_token")

    def __init__(self) -> None:
        self._read = StandingRead()

    def __enter__(self) -> StandingRead:
        self._token: Token[StandingRead | None] = _standing.set(self._read)
        return self._read

    def __exit__(self, *exc_info: object) -> None:
        _standing.reset(self._token)


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
