"""Errors the event store raises; each tells the caller whether anything was written."""

from __future__ import annotations

from commands.ports import ReadMoved, VersionConflict


class EventStoreError(Exception):
    code = "event_store_error"


class InvalidAppend(EventStoreError):
    """The append was rejected before touching the database; nothing was written."""

    code = "invalid_append"


class UnknownStreamType(InvalidAppend):
    code = "unknown_stream_type"

    def __init__(self, stream_type: str, known: frozenset[str]) -> None:
        self.stream_type = stream_type
        super().__init__(f"unknown stream type {stream_type!r}; expected one of {sorted(known)}")


class EventTooLarge(InvalidAppend):
    code = "event_too_large"

    def __init__(self, event_type: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"event {event_type!r} encodes to {size} bytes, over the limit of {limit} bytes"
        )


class UnencodableEvent(InvalidAppend):
    code = "unencodable_event"


class WrongExpectedVersion(EventStoreError, VersionConflict):
    """Optimistic concurrency conflict: the stream moved on; nothing was written."""

    code = "wrong_expected_version"

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"stream {stream_id!r} is at version {actual}, append expected {expected}")


class GuardMoved(WrongExpectedVersion, ReadMoved):
    """A stream the decision only read (a read guard: `read_guards.py`) moved on before the
    append committed; nothing was written. Decide again on its fresh state: a conflict on the
    appended stream itself (a redelivery's stream already taken, say) means something else."""

    code = "guard_moved"

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(stream_id, expected, actual)
        self.args = (f"stream {stream_id!r}, read at version {expected}, is at {actual} now",)


class AppendOutcomeUnknown(EventStoreError):
    """The database went away and it could not be established whether the append committed.

    Retry with the same idempotency key: the store then answers with the original result
    if the first attempt did commit, and appends nothing twice.
    """

    code = "append_outcome_unknown"


class IdempotencyKeyReused(EventStoreError):
    """The key was first used for another stream: a client bug, not a retry."""

    code = "idempotency_key_reused"

    def __init__(self, key: str, first_stream_id: str, stream_id: str) -> None:
        self.key = key
        super().__init__(
            f"idempotency key {key!r} was already used for stream {first_stream_id!r}, "
            f"not {stream_id!r}"
        )


class StoreUnavailable(EventStoreError):
    """The database could not be reached; nothing was written."""

    code = "store_unavailable"
