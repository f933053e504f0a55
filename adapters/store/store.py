"""The asyncpg event store: the only way events get into PostgreSQL and back out."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from typing import Any, Self

import asyncpg

from adapters.store import reader
from adapters.store.append_batch import AppendResult, PendingAppend
from adapters.store.batch import AppendOutcome, StreamAppend
from adapters.store.checks import DEFAULT_MAX_EVENT_BYTES, check_append
from adapters.store.encoding import NewEvent, prepare_events
from adapters.store.notifier import HeadWatcher
from adapters.store.personal.sealer import Known, Sealer
from adapters.store.pool import open_pool
from adapters.store.writer import GroupCommitWriter
from adapters.telemetry.metrics import EVENTS_APPENDED
from adapters.telemetry.tracing import span, would_record
from domain.envelope import EventEnvelope, EventMetadata


@functools.cache
def _appended(event_type: str) -> Any:
    """The counter's child for one event type, looked up once: `labels()` costs ~3 us a call."""
    return EVENTS_APPENDED.labels(event_type)


class EventStore:
    """Append with optimistic concurrency and idempotency; read a stream or the global feed.

    Usage: ``async with EventStore(url, stream_types={"project"}) as store: ...``
    """

    def __init__(
        self,
        database_url: str,
        *,
        stream_types: Iterable[str],
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_event_bytes_by_stream_type: Mapping[str, int] | None = None,
        pool_size: int = 10,
        flushers: int = 2,
        max_batch_events: int = 2000,
        pool: asyncpg.Pool | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        self._database_url = database_url
        self.stream_types = frozenset(stream_types)
        self._max_event_bytes = max_event_bytes
        # Some facts are big by nature (a webhook's raw payload): their streams get their own cap.
        self._max_event_bytes_by_stream_type = dict(max_event_bytes_by_stream_type or {})
        self._pool_size = pool_size
        self._flushers = flushers
        # Events per group-commit call: a smaller cap puts more batches in flight at once.
        self._max_batch_events = max_batch_events
        # A pool given is the process's, shared with its readers: theirs to close, not ours.
        self._shared_pool = pool
        self._pool: asyncpg.Pool | None = None
        self._writer: GroupCommitWriter | None = None
        self._watcher: HeadWatcher | None = None
        # Seals what the domain marks personal, per data subject, before it is hashed and kept.
        self._sealer = sealer

    async def open(self) -> None:
        self._pool = self._shared_pool or await open_pool(
            self._database_url, max_size=self._pool_size
        )
        self._writer = GroupCommitWriter(
            self._pool, flushers=self._flushers, max_batch_events=self._max_batch_events
        )
        self._writer.start()

    async def close(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        if self._writer is not None:
            await self._writer.stop()
            self._writer = None
        if self._pool is not None and self._shared_pool is None:
            await self._pool.close()
        self._pool = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the event store is not open")
        return self._pool

    async def append(
        self,
        stream_id: str,
        stream_type: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int,
        metadata: EventMetadata | None = None,
        guards: Sequence[tuple[str, int]] = (),
    ) -> AppendResult:
        """Appends `events` if the stream is at `expected_version` (0 for a new stream).

        Raises WrongExpectedVersion if it is not, and nothing is written. With
        `metadata.idempotency_key` already used, returns the first result (`duplicate=True`).
        Each `(stream, version)` of `guards` must be at that version still (0: no stream),
        else GuardMoved, and nothing is written.
        """
        pending = await self._pending(
            StreamAppend(
                stream_id=stream_id,
                stream_type=stream_type,
                events=events,
                expected_version=expected_version,
                metadata=metadata or EventMetadata(),
                guards=tuple(guards),
            )
        )
        if self._writer is None:
            raise RuntimeError("the event store is not open")
        if would_record():
            with span(
                "event_store.append",
                attributes={
                    "flowledger.stream_type": stream_type,
                    "flowledger.events": len(events),
                },
            ):
                result = await self._writer.submit(pending)
        else:
            # no span to record (tracing off, or a trace not sampled): skip the context manager
            # and its attributes, on nine appends in ten at a 10% ratio
            result = await self._writer.submit(pending)
        if not result.duplicate:
            for event in events:
                _appended(event.type).inc()
        return result

    async def append_many(self, appends: Sequence[StreamAppend]) -> list[AppendOutcome]:
        """Each append as `append` would make it, submitted together (see `batch.py`): one
        outcome per append, in order. An append no store would take (unknown stream type,
        event too large) raises before anything is written."""
        known = Known()  # one read per person whose data the batch seals
        pendings = [await self._pending(append, known) for append in appends]
        if self._writer is None:
            raise RuntimeError("the event store is not open")
        with span("event_store.append_many", attributes={"flowledger.appends": len(pendings)}):
            outcomes = await self._writer.submit_many(pendings)
        for append, outcome in zip(appends, outcomes, strict=True):
            if isinstance(outcome, AppendResult) and not outcome.duplicate:
                for event in append.events:
                    _appended(event.type).inc()
        return outcomes

    async def _pending(self, append: StreamAppend, known: Known | None = None) -> PendingAppend:
        events, metadata = append.events, append.metadata
        check_append(
            self.stream_types,
            append.stream_id,
            append.stream_type,
            events,
            append.expected_version,
            metadata,
        )
        if self._sealer is not None:
            events, metadata = await self._sealer.seal(self.pool, events, metadata, known)
        prepared = prepare_events(
            events=events,
            metadata=metadata,
            max_event_bytes=self._max_event_bytes_by_stream_type.get(
                append.stream_type, self._max_event_bytes
            ),
        )
        return PendingAppend(
            stream_id=append.stream_id,
            stream_type=append.stream_type,
            expected_version=append.expected_version,
            idempotency_key=metadata.idempotency_key,
            events=prepared,
            future=asyncio.get_running_loop().create_future(),
            guards=append.guards,
        )

    async def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[EventEnvelope]:
        """As stored: one stream from `from_version` to `to_version`, in version order."""
        return await reader.read_stream(
            self.pool, stream_id, from_version=from_version, to_version=to_version
        )

    async def read_streams(self, stream_ids: Collection[str]) -> dict[str, list[EventEnvelope]]:
        """As stored: whole streams by id, in one read; a stream never written is left out."""
        return await reader.read_streams(self.pool, stream_ids)

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[EventEnvelope]:
        """As stored: the global feed in position order. Never skips a late commit: see the
        first migration."""
        return await reader.read_all(self.pool, after_position, limit)

    async def read_range(
        self, after: int, upto: int, types: Collection[str] | None = None
    ) -> list[EventEnvelope]:
        """Current (upcast): the events in `(after, upto]`, of `types` if given, in order."""
        return await reader.read_range(self.pool, after, upto, types)

    async def stream_version(self, stream_id: str) -> int:
        return await reader.stream_version(self.pool, stream_id)

    async def has_stream_type(self, stream_type: str) -> bool:
        """Whether any stream of `stream_type` was ever written."""
        return await reader.any_stream_of_type(self.pool, stream_type)

    async def stream_versions(self, stream_ids: Collection[str]) -> dict[str, int]:
        """Each stream's version now, in one read; a stream never written is left out."""
        return await reader.stream_versions(self.pool, stream_ids)

    async def head_position(self) -> int:
        return await reader.head(self.pool)

    async def wait_beyond(self, position: int, *, timeout: float) -> int:
        """Waits (without polling) until an event past `position` commits; returns the head."""
        if self._watcher is None:
            self._watcher = HeadWatcher(self._database_url)
            await self._watcher.start()
        if self._watcher.head > position:
            return self._watcher.head
        return await self._watcher.wait_beyond(position, timeout)

    async def subscribe(
        self, *, after_position: int = 0, batch_size: int = 500, idle_timeout: float = 5.0
    ) -> AsyncIterator[EventEnvelope]:
        """Catch up from `after_position`, then follow live events, forever, in order."""
        position = after_position
        while True:
            batch = await self.read_all(after_position=position, limit=batch_size)
            for envelope in batch:
                yield envelope
                position = envelope.position
            if len(batch) < batch_size:
                # idle_timeout is only a safety net if a notification is ever lost.
                with contextlib.suppress(TimeoutError):
                    await self.wait_beyond(position, timeout=idle_timeout)
