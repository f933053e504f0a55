"""Many streams' appends handed to the store at once (`append_many`).

Each append keeps its own expected version and idempotency key and succeeds or fails alone:
the batch is one submission (the group commit writes it in as few transactions as its size
allows), not one all-or-nothing unit. So many new streams cost one round trip, and a stream
another process wrote first is refused on its own, leaving its neighbours written.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from adapters.store.append_batch import AppendResult
from adapters.store.encoding import NewEvent
from adapters.store.errors import EventStoreError
from domain.envelope import EventMetadata


class StreamAppend(msgspec.Struct, frozen=True, kw_only=True):
    """One stream's part of an `append_many`: what `append` takes, as a value."""

    stream_id: str
    stream_type: str
    events: Sequence[NewEvent]
    expected_version: int
    metadata: EventMetadata = msgspec.field(default_factory=EventMetadata)
    guards: tuple[tuple[str, int], ...] = ()
    """Streams the decision read, at the version read: a moved one fails it (`GuardMoved`)."""


AppendOutcome = AppendResult | EventStoreError
"""Per append: its result, or the error `append` would have raised for it alone
(WrongExpectedVersion, IdempotencyKeyReused, InvalidAppend, StoreUnavailable...)."""
