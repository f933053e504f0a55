"""append_batch's arguments built as the writer builds them, for tests that call the function
directly (what it answers itself, not what the writer makes of it)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from adapters.store.append_batch import PendingAppend, batch_arguments
from adapters.store.encoding import NewEvent, prepare_events
from domain.envelope import EventMetadata


def batch_of(*appends: tuple[str, int, str | None, Sequence[str]]) -> tuple[object, ...]:
    """The arguments for (stream, expected version, idempotency key, event types) appends."""
    pending = []
    for stream, expected, key, types in appends:
        events = prepare_events(
            events=[NewEvent(type=t, data={"stream": stream, "n": n}) for n, t in enumerate(types)],
            metadata=EventMetadata(idempotency_key=key),
            max_event_bytes=1 << 20,
        )
        pending.append(
            PendingAppend(
                stream_id=stream,
                stream_type="run",
                expected_version=expected,
                idempotency_key=key,
                events=events,
                future=asyncio.get_running_loop().create_future(),
            )
        )
    return batch_arguments(pending)
