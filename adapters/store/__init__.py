"""The event store on asyncpg: group-committed appends, ordered reads, a hash chain per stream.

The only package that queries the events table: everyone else reads through `reader`
(feed, streams, head), `replay` (the gateway's watch levels) or `audit_reader` (stored rows).
`memory.InMemoryEventStore` implements the same port for fast tests.
"""

from adapters.store.append_batch import AppendResult
from adapters.store.batch import AppendOutcome, StreamAppend
from adapters.store.encoding import NewEvent
from adapters.store.errors import (
    AppendOutcomeUnknown,
    EventStoreError,
    EventTooLarge,
    GuardMoved,
    IdempotencyKeyReused,
    InvalidAppend,
    StoreUnavailable,
    UnencodableEvent,
    UnknownStreamType,
    WrongExpectedVersion,
)
from adapters.store.store import EventStore

__all__ = [
    "AppendOutcome",
    "AppendOutcomeUnknown",
    "AppendResult",
    "EventStore",
    "EventStoreError",
    "EventTooLarge",
    "GuardMoved",
    "IdempotencyKeyReused",
    "InvalidAppend",
    "NewEvent",
    "StoreUnavailable",
    "StreamAppend",
    "UnencodableEvent",
    "UnknownStreamType",
    "WrongExpectedVersion",
]
