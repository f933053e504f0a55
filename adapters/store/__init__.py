"""The event store on asyncpg: group-committed appends, ordered reads, a hash chain per stream."""

from adapters.store.encoding import NewEvent
from adapters.store.errors import (
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
from adapters.store.store import EventStore
from adapters.store.writer import AppendResult

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
