"""The event store's port in memory: the same checks, versions, idempotency and hash chains as
the PostgreSQL store, for fast tests of everything that only appends and reads streams.

Its events go through the store's own encoding, so the data read back is what PostgreSQL
would give (a JSON round trip) and every hash recomputes exactly as an auditor would.
One process, one event loop: an append is atomic because nothing awaits inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self

import msgspec

from adapters.store.append_batch import AppendResult
from adapters.store.batch import AppendOutcome, StreamAppend
from adapters.store.checks import DEFAULT_MAX_EVENT_BYTES, check_append
from adapters.store.encoding import (
    GENESIS_HASH,
    NewEvent,
    chain_hash,
    prepare_events,
)
from adapters.store.errors import (
    EventStoreError,
    GuardMoved,
    IdempotencyKeyReused,
    InvalidAppend,
    WrongExpectedVersion,
)
from domain.envelope import EventEnvelope, EventMetadata
from domain.upcasting import current

_data = msgspec.json.Decoder(dict[str, Any])
_metadata = msgspec.json.Decoder(EventMetadata)


class InMemoryEventStore:
    """Append with optimistic concurrency and idempotency; read a stream or the global feed.

    Usage: ``async with InMemoryEventStore(stream_types={"project"}) as store: ...``
    """

    def __init__(
        self,
        *,
        stream_types: Iterable[str],
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_event_bytes_by_stream_type: Mapping[str, int] | None = None,
    ) -> None:
        self.stream_types = frozenset(stream_types)
        self._max_event_bytes = max_event_bytes
        self._max_event_bytes_by_stream_type = dict(max_event_bytes_by_stream_type or {})
        self._feed: list[EventEnvelope] = []
        """Every event; the one at position p is `_feed[p - 1]`."""
        self._streams: dict[str, list[EventEnvelope]] = {}
        self._results: dict[str, AppendResult] = {}
        """The first result of each idempotency key."""
        self._appended = asyncio.Condition()

    async def open(self) -> None:
        """Nothing to open; here so the two stores are used alike."""

    async def close(self) -> None:
        """Nothing to close."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

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
        metadata = metadata or EventMetadata()
        check_append(self.stream_types, stream_id, stream_type, events, expected_version, metadata)
        recorded_at = datetime.now(UTC)
        prepared = prepare_events(
            events=events,
            metadata=metadata,
            max_event_bytes=self._max_event_bytes_by_stream_type.get(
                stream_type, self._max_event_bytes
            ),
        )
        # The same order of judgement as `append_batch`: a used key answers first.
        key = metadata.idempotency_key
        if key is not None and key in self._results:
            first = self._results[key]
            if first.stream_id != stream_id:
                raise IdempotencyKeyReused(key, first.stream_id, stream_id)
            return msgspec.structs.replace(first, duplicate=True)
        stream = self._streams.get(stream_id, [])
        if stream and stream[0].stream_type != stream_type:
            raise InvalidAppend(
                f"stream {stream_id!r} is a {stream[0].stream_type!r} stream, not {stream_type!r}"
            )
        if len(stream) != expected_version:
            raise WrongExpectedVersion(stream_id, expected_version, len(stream))
        for guarded, version in guards:  # after the stream's own version, as in append_batch
            if (actual := len(self._streams.get(guarded, []))) != version:
                raise GuardMoved(guarded, version, actual)
        prev = bytes.fromhex(stream[-1].hash) if stream else GENESIS_HASH
        written = []
        for offset, event in enumerate(prepared):
            canonical = event.canonical(
                stream_id=stream_id,
                stream_type=stream_type,
                version=expected_version + offset + 1,
                recorded_at=recorded_at,
            )
            prev = chain_hash(prev, canonical)
            written.append(
                EventEnvelope(
                    event_id=event.event_id,
                    position=len(self._feed) + offset + 1,
                    stream_id=stream_id,
                    stream_type=stream_type,
                    version=expected_version + offset + 1,
                    type=event.type,
                    schema_version=event.schema_version,
                    recorded_at=recorded_at,
                    data=_data.decode(event.data),
                    metadata=_metadata.decode(event.metadata),
                    hash=prev.hex(),
                )
            )
        self._feed += written
        self._streams[stream_id] = stream + written
        result = AppendResult(
            stream_id=stream_id,
            from_version=written[0].version,
            to_version=written[-1].version,
            first_position=written[0].position,
            last_position=written[-1].position,
            event_ids=tuple(e.event_id for e in written),
        )
        if key is not None:
            self._results[key] = result
        await self._announce()
        return result

    async def append_many(self, appends: Sequence[StreamAppend]) -> list[AppendOutcome]:
        """Each append as `append` would make it, in order; one outcome per append. An append
        no store would take raises before anything is written, as in PostgreSQL."""
        for append in appends:
            check_append(
                self.stream_types,
                append.stream_id,
                append.stream_type,
                append.events,
                append.expected_version,
                append.metadata,
            )
            prepare_events(
                events=append.events,
                metadata=append.metadata,
                max_event_bytes=self._max_event_bytes_by_stream_type.get(
                    append.stream_type, self._max_event_bytes
                ),
            )
        outcomes: list[AppendOutcome] = []
        for append in appends:
            try:
                outcomes.append(
                    await self.append(
                        append.stream_id,
                        append.stream_type,
                        append.events,
                        expected_version=append.expected_version,
                        metadata=append.metadata,
                        guards=append.guards,
                    )
                )
            except EventStoreError as error:
                outcomes.append(error)
        return outcomes

    async def _announce(self) -> None:
        async with self._appended:
            self._appended.notify_all()

    async def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[EventEnvelope]:
        """As stored: one stream from `from_version` to `to_version`, in version order."""
        stream = self._streams.get(stream_id, [])
        last = len(stream) if to_version is None else to_version
        return stream[max(from_version, 1) - 1 : max(last, 0)]

    async def read_streams(self, stream_ids: Collection[str]) -> dict[str, list[EventEnvelope]]:
        """As stored: whole streams by id; a stream never written is left out."""
        return {s: list(self._streams[s]) for s in stream_ids if self._streams.get(s)}

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[EventEnvelope]:
        """As stored: the global feed in position order."""
        start = max(after_position, 0)
        return self._feed[start : start + limit]

    async def read_range(
        self, after: int, upto: int, types: Collection[str] | None = None
    ) -> list[EventEnvelope]:
        """Current (upcast): the events in `(after, upto]`, of `types` if given, in order."""
        events = self._feed[max(after, 0) : max(upto, 0)]
        wanted = None if types is None else set(types)
        return [current(e) for e in events if wanted is None or e.type in wanted]

    async def stream_version(self, stream_id: str) -> int:
        return len(self._streams.get(stream_id, []))

    async def stream_versions(self, stream_ids: Collection[str]) -> dict[str, int]:
        """Each stream's version now; a stream never written is left out."""
        return {s: len(self._streams[s]) for s in stream_ids if self._streams.get(s)}

    async def has_stream_type(self, stream_type: str) -> bool:
        """Whether any stream of `stream_type` was ever written."""
        return any(e.stream_type == stream_type for e in self._feed)

    async def head_position(self) -> int:
        return len(self._feed)

    async def wait_beyond(self, position: int, *, timeout: float) -> int:
        """Waits until an event past `position` is appended; returns the head."""
        async with self._appended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._appended.wait_for(lambda: len(self._feed) > position), timeout
                )
        return len(self._feed)

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
                await self.wait_beyond(position, timeout=idle_timeout)
