"""Saves aggregates' pending events through the event store and rebuilds aggregates from streams."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from adapters.store import AppendOutcome, AppendResult, NewEvent, StreamAppend
from adapters.store.read_guards import confirm_standing, current_guards, noted_reads
from domain.envelope import EventEnvelope, EventMetadata
from domain.errors import AggregateNotFound
from domain.registry import EventRecord, Registry

A = TypeVar("A", bound=Aggregate)

__all__ = ["AggregateNotFound", "Repository", "StreamStore"]


class StreamStore(Protocol):
    """The part of the event store a repository needs (the real one, or a fake in tests)."""

    async def append(
        self,
        stream_id: str,
        stream_type: str,
        events: Sequence[NewEvent],
        *,
        expected_version: int,
        metadata: EventMetadata | None = None,
        guards: Sequence[tuple[str, int]] = (),
    ) -> AppendResult: ...

    async def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[EventEnvelope]: ...

    async def has_stream_type(self, stream_type: str) -> bool: ...

    async def append_many(self, appends: Sequence[StreamAppend]) -> list[AppendOutcome]: ...

    async def read_streams(self, stream_ids: Collection[str]) -> dict[str, list[EventEnvelope]]: ...

    async def stream_versions(self, stream_ids: Collection[str]) -> dict[str, int]: ...


class EncodedSaves(msgspec.Struct, frozen=True, kw_only=True):
    """Aggregates' pending events encoded for the store, not yet written (`encoded`)."""

    aggregates: list[Aggregate]
    appends: list[StreamAppend]


class Repository:
    def __init__(self, store: StreamStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry

    async def save(
        self, aggregate: Aggregate, *, metadata: EventMetadata | None = None
    ) -> AppendResult | None:
        """Append the aggregate's pending events, expecting the version it was loaded at.

        Returns None when there is nothing to save (a command that decided nothing).
        Raises WrongExpectedVersion if the stream moved on; the pending events are then kept,
        as they are when the outcome is unknown, so the caller may retry or give up.
        """
        pending = list(aggregate.pending_events)
        if not pending:
            return None
        # What the decision only read (`read_guards.py`) must not have moved either.
        guards = current_guards()
        result = await self._store.append(
            str(aggregate.id),
            self._registry.stream_type(type(aggregate)),
            [self._new_event(event) for event in pending],
            expected_version=aggregate.version - len(pending),
            metadata=metadata,
            **({"guards": guards} if guards else {}),
        )
        aggregate.collect_events()
        if guards and not result.duplicate:
            confirm_standing(guards)
        return result

    async def get(self, aggregate_cls: type[A], id: UUID, *, version: int | None = None) -> A:
        """The aggregate as of its latest event, or as of `version` (its state back then)."""
        if version is not None and version < 1:
            raise ValueError(f"version must be 1 or more, got {version}")
        stream_type = self._registry.stream_type(aggregate_cls)
        envelopes = await self._store.read_stream(str(id), to_version=version)
        if not envelopes or envelopes[0].stream_type != stream_type:
            raise AggregateNotFound(stream_type, id, version)
        aggregate = self._applied(None, envelopes, id)
        if not isinstance(aggregate, aggregate_cls):
            raise AggregateNotFound(stream_type, id, version)
        return aggregate

    async def get_to_read(self, aggregate_cls: type[A], id: UUID) -> A:
        """`get`, for a caller that only reads (see `CachingRepository.get_to_read`); in a
        `guarded_reads` scope, its appends then expect the version read."""
        aggregate = await self.get(aggregate_cls, id)
        if (noted := noted_reads()) is not None:
            noted.note(str(id), aggregate.version, unread=False)
        return aggregate

    async def save_many(
        self, saves: Sequence[tuple[Aggregate, EventMetadata]]
    ) -> list[AppendOutcome]:
        """Each aggregate's pending events, appended together (`append_many`): each expects
        the version it was loaded at and succeeds or fails alone; one outcome per aggregate,
        in order. An aggregate whose append failed keeps its pending events, as with `save`."""
        return await self.save_encoded(self.encoded(saves))

    def encoded(self, saves: Sequence[tuple[Aggregate, EventMetadata]]) -> EncodedSaves:
        """`save_many`'s first half, for a caller that writes a while later: the pending events
        encoded (and checked against their schemas) now. Nothing is written."""
        guards = current_guards()
        appends = [
            StreamAppend(
                stream_id=str(aggregate.id),
                stream_type=self._registry.stream_type(type(aggregate)),
                events=[self._new_event(event) for event in aggregate.pending_events],
                expected_version=aggregate.version - len(aggregate.pending_events),
                metadata=metadata,
                guards=guards,
            )
            for aggregate, metadata in saves
        ]
        return EncodedSaves(aggregates=[aggregate for aggregate, _ in saves], appends=appends)

    async def save_encoded(self, encoded: object) -> list[AppendOutcome]:
        """`save_many`'s second half: what `encoded` holds, appended as `save_many` would."""
        if not isinstance(encoded, EncodedSaves):
            raise TypeError(f"expected what encoded() made, got {type(encoded).__name__}")
        outcomes = await self._store.append_many(encoded.appends)
        for aggregate, append, outcome in zip(
            encoded.aggregates, encoded.appends, outcomes, strict=True
        ):
            if isinstance(outcome, AppendResult):
                aggregate.collect_events()
                if append.guards and not outcome.duplicate:
                    confirm_standing(append.guards)
        return outcomes

    async def get_many(self, aggregate_cls: type[A], ids: Collection[UUID]) -> dict[UUID, A]:
        """The aggregates as of their latest events, read in one go; an id with no stream of
        this kind is left out."""
        stream_type = self._registry.stream_type(aggregate_cls)
        streams = await self._store.read_streams([str(id) for id in ids])
        found: dict[UUID, A] = {}
        for id in ids:
            envelopes = streams.get(str(id))
            if not envelopes or envelopes[0].stream_type != stream_type:
                continue
            aggregate = self._applied(None, envelopes, id)
            if isinstance(aggregate, aggregate_cls):
                found[id] = aggregate
        return found

    async def get_many_to_append(
        self,
        aggregate_cls: type[A],
        ids: Collection[UUID],
        *,
        unread: Mapping[str, Mapping[str, Any]],
    ) -> dict[UUID, A]:
        """As the port says (`commands.ports.Repository`); here always read, in full."""
        return await self.get_many(aggregate_cls, ids)

    async def versions(self, ids: Collection[UUID]) -> dict[UUID, int]:
        """Each aggregate's version now (0: none yet), in one read: whether what a command
        loaded a while ago is still current, without loading it again."""
        found = await self._store.stream_versions([str(id) for id in ids])
        return {id: found.get(str(id), 0) for id in ids}

    @contextlib.contextmanager
    def command_scope(self) -> Iterator[None]:
        """Around one attempt at a command; a caching repository keeps what it loaded then."""
        yield

    def _applied(
        self, aggregate: Aggregate | None, envelopes: Sequence[EventEnvelope], id: UUID
    ) -> Aggregate | None:
        for envelope in envelopes:
            record = EventRecord(
                type=envelope.type, schema_version=envelope.schema_version, data=envelope.data
            )
            event = self._registry.decode(
                record, originator_id=id, originator_version=envelope.version
            )
            aggregate = event.mutate(aggregate)
        return aggregate

    async def any_of(self, aggregate_cls: type[Aggregate]) -> bool:
        """Whether any aggregate of this kind was ever saved."""
        return await self._store.has_stream_type(self._registry.stream_type(aggregate_cls))

    def _new_event(self, event: object) -> NewEvent:
        record = self._registry.encode(event)  # type: ignore[arg-type]
        return NewEvent(type=record.type, data=record.data, schema_version=record.schema_version)
