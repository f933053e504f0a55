"""The event store on asyncpg: group-committed appends, ordered reads, a hash chain per stream."""

from adapters.event_store.encoding import NewEvent
from adapters.event_store.errors import (
    AppendOutcomeUnknown,
    EventStoreError,
    EventTooLarge,
    IdempotencyKeyReused,
    InvalidAppend,
    StoreUnavailable,
    UnencodableEvent,
    UnknownStreamType,
    WrongExpectedVersion,
)
from adapters.event_store.store import EventStore
from adapters.event_store.writer import AppendResult

__all__ = [
    "AppendOutcomeUnknown",
    "AppendResult",
    "EventStore",
    "EventStoreError",
    "EventTooLarge",
    "IdempotencyKeyReused",
    "InvalidAppend",
    "NewEvent",
    "StoreUnavailable",
    "UnencodableEvent",
    "UnknownStreamType",
    "WrongExpectedVersion",
]
