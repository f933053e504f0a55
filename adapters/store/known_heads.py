"""The hash of streams' last events as this process last saw them, so that an append chains its
events on the client (migration 0021) instead of in PostgreSQL.

An event never changes, so "the stream's event at version v has hash h" stays true once seen:
an append that expects version v and passes the version check is on that event. An entry is
only ever used for an append expecting exactly its version; a stale one (the stream moved on)
costs the conflict the expected version costs anyway. A wrong one (a database emptied under a
running process) is caught by append_batch, which compares the hash the client chained on with
the head's and answers `prev_differs`: the writer then sends the append again, unhashed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

from adapters.store.encoding import GENESIS_HASH
from domain.envelope import EventEnvelope

DEFAULT_MAX_ENTRIES = 16_384
"""About 250 bytes each: 4 MB at most."""


class KnownHeads:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        # An OrderedDict: a plain dict's oldest key, deleted again and again, is found by
        # skipping every slot deleted before it.
        self._heads: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._heads)

    def hash_at(self, stream_id: str, version: int) -> bytes | None:
        """The hash of the stream's event at `version` if known (0: the genesis hash)."""
        if version == 0:
            return GENESIS_HASH
        head = self._heads.get(stream_id)
        if head is not None and head[0] == version:
            return head[1]
        return None

    def note(self, stream_id: str, version: int, hash: bytes) -> None:
        """The stream's event at `version` has `hash`; kept unless a later one is known."""
        heads = self._heads
        head = heads.get(stream_id)
        if head is not None:
            heads.move_to_end(stream_id)  # the least recently noted goes first
            if head[0] > version:
                return
        heads[stream_id] = (version, hash)
        if len(heads) > self._max_entries:
            heads.popitem(last=False)

    def note_read(self, envelopes: Sequence[EventEnvelope]) -> None:
        """The last of one stream's envelopes as stored, read in version order."""
        if envelopes:
            last = envelopes[-1]
            self.note(last.stream_id, last.version, bytes.fromhex(last.hash))

    def note_each(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Each envelope as stored, of any streams (a feed read)."""
        for envelope in envelopes:
            self.note(envelope.stream_id, envelope.version, bytes.fromhex(envelope.hash))

    def forget(self, stream_id: str) -> None:
        self._heads.pop(stream_id, None)
