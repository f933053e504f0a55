"""A per-process cache of aggregates for the command side: a load reads only the stream's tail.

Rebuilding an aggregate decodes and applies every event of its stream on every command; most of
a command's CPU went there. Here an aggregate a command loaded is kept (bounded, least recently
used first out) once the command is done with it, and the next load of its stream reads only the
events after the kept version (usually none) and applies those. The read still happens, so a
decision is always made on the state PostgreSQL holds, as without the cache: another process
writing the same stream is caught up with, never missed. The append's expected version checks
the rest (a write between that read and the append is a version conflict, as before).

An entry is lent to one command at a time (taken out on load, put back when the attempt ends),
so concurrent commands never share an object. It is not put back when it may not match the
stream: pending events (the handler raised after deciding, or the append failed: a conflict
invalidates it), or an append answered as an idempotent replay (nothing of it was written).
Nor is one whose stream holds personal data (domain/personal.py): an erasure in another
process must not leave a plain copy here for a later event to repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Collection, Iterable
from contextvars import ContextVar
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from adapters.store import AppendOutcome, AppendResult
from adapters.store.primed import Blank, PrimedStates
from adapters.store.read_guards import NotedReads, guarded_reads, noted_reads
from adapters.store.repository import EncodedSaves, Repository, StreamStore
from adapters.store.tail_reads import TailReads
from domain.envelope import EventEnvelope, EventMetadata
from domain.errors import AggregateNotFound
from domain.personal import ACTOR_FIELDS, PERSONAL_FIELDS
from domain.registry import Registry

A = TypeVar("A", bound=Aggregate)

DEFAULT_MAX_ENTRIES = 4096

_lent: ContextVar[dict[int, Aggregate | None] | None] = ContextVar("flowledger_lent", default=None)


class CachingRepository(Repository):
    def __init__(
        self,
        store: StreamStore,
        registry: Registry,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        tails: TailReads | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be 1 or more, got {max_entries}")
        super().__init__(store, registry)
        # Given, the latest-state reads of concurrent commands and requests go together.
        self._read_from = store.read_stream if tails is None else tails.read
        self._entries: OrderedDict[str, Aggregate] = OrderedDict()
        self._max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self.unread_hits = 0
        """`get_to_read`s answered without a read, in a `guarded_reads` scope."""
        self._primed = PrimedStates()
        self.primed_hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def prime(self, envelopes: Iterable[EventEnvelope], blank: Blank) -> None:
        """Keep the aggregates these first events make, `blank`'s fields blanked, for a
        `get_many_to_append` that leaves those fields unread (`primed.py`): the envelopes are
        as the store returned them to this process (a feed read), current or as stored."""
        self._primed.prime(envelopes, blank, lambda e: self._applied(None, [e], UUID(e.stream_id)))

    async def get_many_to_append(
        self, aggregate_cls: type[A], ids: Collection[UUID], *, unread: Blank
    ) -> dict[UUID, A]:
        """As `get_many`, but an aggregate primed with `unread` blanked is taken as it was
        primed, not read: the caller's append expects its version, so a stream that moved on
        meanwhile is a conflict (the command is sent again and reads it), never a wrong write."""
        primed: dict[UUID, Aggregate] = {}
        if len(self._primed):
            for id in ids:
                if (found := self._primed.take(str(id), unread, aggregate_cls)) is not None:
                    primed[id] = found
            self.primed_hits += len(primed)
        rest = [id for id in ids if id not in primed]
        loaded: dict[UUID, A] = {}
        if rest:
            loaded = await super().get_many(aggregate_cls, rest)
        loaded.update(primed)  # type: ignore[arg-type]  (taken as aggregate_cls)
        return {id: loaded[id] for id in ids if id in loaded}

    async def get(self, aggregate_cls: type[A], id: UUID, *, version: int | None = None) -> A:
        if version is not None:  # the past is not cached
            return await super().get(aggregate_cls, id, version=version)
        stream_id = str(id)
        cached = self._entries.pop(stream_id, None)
        if isinstance(cached, aggregate_cls):
            self.hits += 1
            envelopes = await self._read_from(stream_id, from_version=cached.version + 1)
            aggregate = self._applied(cached, envelopes, id)
        else:
            self.misses += 1
            stream_type = self._registry.stream_type(aggregate_cls)
            envelopes = await self._read_from(stream_id)
            if not envelopes or envelopes[0].stream_type != stream_type:
                raise AggregateNotFound(stream_type, id, None)
            aggregate = self._applied(None, envelopes, id)
        if not isinstance(aggregate, aggregate_cls):
            raise AggregateNotFound(self._registry.stream_type(aggregate_cls), id, None)
        lent = _lent.get()
        if lent is not None:
            personal = any(
                holds_personal_data(e.type, e.metadata.personal_actor) for e in envelopes
            )
            lent[id_of(aggregate)] = None if personal else aggregate  # None: never kept
        return aggregate

    async def get_to_read(self, aggregate_cls: type[A], id: UUID) -> A:
        """The aggregate as PostgreSQL holds it now, for a caller that only reads it (a request's
        API key, the pipeline a run is triggered from): the kept entry is shared, not lent, when
        the stream's tail read finds nothing new. Many requests with one key then share one
        entry; lending it would let only one of them hit at a time. The caller must not change
        or save what it gets, and reads it before its next await (a command that borrows the
        entry meanwhile may change it), bar what never changes (its id, its owner).

        In a `guarded_reads` scope that trusts the cache, a kept entry is answered without the
        tail read: the scope's appends carry its version as a guard (`read_guards.py`). In any
        scope the version answered is noted."""
        stream_id = str(id)
        cached = self._entries.get(stream_id)
        noted = noted_reads()
        if isinstance(cached, aggregate_cls) and not cached.pending_events:
            seen = cached.version
            if noted is not None and noted.trust_cache:
                # Not read: the scope's appends expect `seen` (`read_guards.py`).
                self.unread_hits += 1
                noted.note(stream_id, seen, unread=True)
                return cached
            newer = await self._read_from(stream_id, from_version=seen + 1)
            # Unchanged meanwhile (a command may have borrowed and changed it during the read).
            if not newer and cached.version == seen and not cached.pending_events:
                self.hits += 1
                if noted is not None:
                    noted.note(stream_id, seen, unread=False)
                return cached
        if cached is not None and cached.pending_events:
            self._entries.pop(stream_id, None)  # changed by someone: rebuilt from the stream
        token = _lent.set({})
        try:
            aggregate = await self.get(aggregate_cls, id)
            lent = _lent.get() or {}
        finally:
            _lent.reset(token)
        if lent.get(id_of(aggregate)) is aggregate:  # not personal: worth keeping
            self._keep(aggregate)
        if noted is not None:
            noted.note(stream_id, aggregate.version, unread=False)
        return aggregate

    def kept_to_read(self, aggregate_cls: type[A], id: UUID) -> A | None:
        """The kept aggregate, not read (None: none kept): for a caller that stands on it
        (`read_guards.standing_read`), whose appends carry its version and whose other answers
        check `moved_since` before they go. The same rules as `get_to_read`'s shared entry."""
        cached = self._entries.get(str(id))
        if isinstance(cached, aggregate_cls) and not cached.pending_events:
            self.unread_hits += 1
            return cached
        return None

    async def moved_since(self, stream_id: str, version: int) -> bool:
        """Whether the stream has an event after `version` now (one tail read, batched)."""
        return bool(await self._read_from(stream_id, from_version=version + 1))

    async def stale_unread(self, noted: NotedReads) -> bool:
        """Whether a stream `get_to_read` answered unread in `noted`'s scope has moved on since:
        for a scope that ends without an append (which would have checked), before its answer
        stands. One tail read, batched with the others."""
        if not noted.unread:
            return False
        tails = await asyncio.gather(
            *(self._read_from(s, from_version=v + 1) for s, v in noted.unread.items())
        )
        return any(tails)

    async def save(
        self, aggregate: Aggregate, *, metadata: EventMetadata | None = None
    ) -> AppendResult | None:
        lent = _lent.get()
        types = [self._registry.event_type(type(e)).name for e in aggregate.pending_events]
        try:
            result = await super().save(aggregate, metadata=metadata)
        except BaseException:
            self.forget(aggregate)  # pending events are kept: it does not match the stream
            raise
        personal = metadata is not None and metadata.personal_actor
        if result is not None and result.duplicate:
            # A replay: the events were collected but not written (an earlier request was).
            self.forget(aggregate)
        elif result is not None and any(holds_personal_data(t, personal) for t in types):
            self.forget(aggregate)
        elif lent is not None:
            lent.setdefault(id_of(aggregate), aggregate)  # a new aggregate is worth keeping too
        return result

    async def save_encoded(self, encoded: object) -> list[AppendOutcome]:
        """As `Repository.save_many` (and its halves); none of these is kept (a batch of new
        streams would push out what the next commands load), and a lent one that failed is
        forgotten."""
        outcomes = await super().save_encoded(encoded)
        aggregates = encoded.aggregates if isinstance(encoded, EncodedSaves) else []
        for aggregate, outcome in zip(aggregates, outcomes, strict=True):
            if not isinstance(outcome, AppendResult) or outcome.duplicate:
                self.forget(aggregate)
        return outcomes

    def forget(self, aggregate: Aggregate) -> None:
        lent = _lent.get()
        if lent is not None and lent.get(id_of(aggregate)) is aggregate:
            del lent[id_of(aggregate)]
        self._entries.pop(str(aggregate.id), None)

    def command_scope(self) -> _CommandScope:
        return _CommandScope(self)

    def read_scope(
        self, *, trust_cache: bool
    ) -> contextlib.AbstractContextManager[NotedReads | None]:
        """One attempt's `guarded_reads` scope (what it gives), or None inside another's: the
        outer scope's owner then judges and retries."""
        if noted_reads() is not None:
            return contextlib.nullcontext()
        return guarded_reads(trust_cache=trust_cache)

    def _keep(self, aggregate: Aggregate) -> None:
        if aggregate.pending_events:
            return
        key = str(aggregate.id)
        kept = self._entries.get(key)
        if kept is not None and kept.version >= aggregate.version:
            return  # another command's copy is as new: keep that one
        self._entries[key] = aggregate
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class _CommandScope:
    """One attempt at a command: what it loaded is lent to it, and kept when it ends. A class
    rather than a generator-based context manager: it is entered on every command."""

    __slots__ = ("_lent", "_repository", "_token")

    def __init__(self, repository: CachingRepository) -> None:
        self._repository = repository

    def __enter__(self) -> None:
        self._lent: dict[int, Aggregate | None] = {}
        self._token = _lent.set(self._lent)

    def __exit__(self, *exc_info: object) -> None:
        _lent.reset(self._token)
        for aggregate in self._lent.values():
            if aggregate is not None:
                self._repository._keep(aggregate)


def holds_personal_data(event_type: str, personal_actor: bool) -> bool:
    """Whether an event of this type carries a person's data: an aggregate built from one is not
    kept, so that an erasure (in any process) leaves no plain copy here to be written again."""
    return event_type in PERSONAL_FIELDS or (personal_actor and event_type in ACTOR_FIELDS)


def id_of(aggregate: Aggregate) -> int:
    """The object's identity: two loads of one stream are two objects, each lent on its own."""
    return id(aggregate)
