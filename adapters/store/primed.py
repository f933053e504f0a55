"""Aggregates built from first events this process already read from the store, bodies blanked.

The intake reads each `WebhookReceived` from the feed, then records the delivery's outcome; that
command loaded the delivery again, its 8.8 KB body and all (sent, decoded, validated), to learn
its project and that it has no outcome yet. Here the adapter that read the event (never a
command's input) keeps the aggregate that event makes, with the fields `blank` names read as
the values given (no personal value is kept: an erasure leaves nothing here); a load to append
that leaves those same fields unread takes it as it is, without a read (any other load reads the
stream whole). Its append expects the version it was built at, so a write in between is a
conflict (the command reads the stream when sent again), never a decision on a stale state that
gets written.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec
from eventsourcing.domain import Aggregate

from domain.envelope import EventEnvelope

Blank = Mapping[str, Mapping[str, Any]]
MAX_ENTRIES = 4096


class PrimedStates:
    """Bounded, least recently primed out first; each entry is taken once."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[str, tuple[Blank, Aggregate]] = OrderedDict()
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def prime(
        self,
        envelopes: Iterable[EventEnvelope],
        blank: Blank,
        build: Callable[[EventEnvelope], Aggregate | None],
    ) -> None:
        """Keep what each first event of a type in `blank` makes, those fields blanked."""
        for envelope in envelopes:
            if envelope.version != 1 or envelope.type not in blank:
                continue
            blanked = msgspec.structs.replace(
                envelope, data={**envelope.data, **blank[envelope.type]}
            )
            aggregate = build(blanked)
            if aggregate is None:
                continue
            self._entries[envelope.stream_id] = (blank, aggregate)
            self._entries.move_to_end(envelope.stream_id)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def take(self, stream_id: str, blank: Blank, aggregate_cls: type) -> Aggregate | None:
        """The entry primed for `stream_id` with this `blank` (for a load that leaves those
        fields unread), now no longer kept; an entry primed otherwise is dropped too."""
        found = self._entries.pop(stream_id, None)
        if found is None or found[0] != blank or not isinstance(found[1], aggregate_cls):
            return None
        return found[1]
