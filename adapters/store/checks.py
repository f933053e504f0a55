"""What every event store refuses before writing anything: the shape of an append."""

from __future__ import annotations

from collections.abc import Collection

from adapters.store.errors import InvalidAppend, UnknownStreamType
from domain.envelope import EventMetadata

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
MAX_STREAM_ID_LENGTH = 200
MAX_EVENTS_PER_APPEND = 1000


def check_append(
    stream_types: Collection[str],
    stream_id: object,
    stream_type: object,
    events: object,
    expected_version: object,
    metadata: object,
) -> None:
    """Raises InvalidAppend (or UnknownStreamType) for an append no store may take.

    The events themselves are checked while they are encoded (`encoding.prepare_events`).
    """
    if not isinstance(stream_id, str) or not stream_id or len(stream_id) > MAX_STREAM_ID_LENGTH:
        raise InvalidAppend(
            f"stream_id must be a non-empty string of at most {MAX_STREAM_ID_LENGTH} characters"
        )
    if stream_type not in stream_types:
        raise UnknownStreamType(str(stream_type), frozenset(stream_types))
    if type(expected_version) is not int or expected_version < 0:
        raise InvalidAppend(
            f"expected_version must be a non-negative integer, got {expected_version!r}"
        )
    if not isinstance(events, list | tuple) or not events:
        raise InvalidAppend("events must be a non-empty list or tuple of NewEvent")
    if len(events) > MAX_EVENTS_PER_APPEND:
        raise InvalidAppend(f"at most {MAX_EVENTS_PER_APPEND} events per append")
    if not isinstance(metadata, EventMetadata):
        raise InvalidAppend("metadata must be an EventMetadata")
    key = metadata.idempotency_key
    if key is not None and (not key or len(key) > 255):
        raise InvalidAppend("idempotency_key must be 1 to 255 characters")
