"""The webhook sources' signing secrets, opened once per process instead of once per delivery.

Opening a source's secret costs a read of `kept_secrets` and two AES-GCM opens; on every
delivery that was a round trip of its own. What a sealed text (`kept:v1:<ref>`, or an older
event's ciphertext) stands for never changes: a rotation keeps the new secret under a new
reference. So the opened values are kept here per source, and which sealed texts a delivery may
be signed with is still the source's decision alone (`WebhookSource.accepted_secrets`), on the
source as PostgreSQL holds it when the delivery arrives (`sources.find_source` reads the
stream's tail every time). A secret rotated out (its grace over, cut by a later rotation, or
retired by the sweeper) or a source disabled stops verifying at once, in every process.

Each entry holds exactly the secrets its source accepted at its last delivery: one rotated out
leaves this process's memory at the source's next delivery, and a source not seen for a while
is dropped past MAX_ENTRIES (least recently used first). A value is never logged, pickled or
sent anywhere; one that cannot be opened is not kept (the next delivery asks again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from uuid import UUID

from adapters.secrets.kept import KeptSecrets

MAX_ENTRIES = 1024
"""Sources whose secrets are kept open."""


class OpenedSecrets:
    """Per (box, source): its accepted sealed texts and their values, in the same order."""

    __slots__ = ("_entries", "_lock", "_max_entries")

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be 1 or more, got {max_entries}")
        # Keyed by the box's identity; the entry holds the box, so that identity stays its own.
        self._entries: OrderedDict[
            tuple[int, UUID], tuple[KeptSecrets, tuple[str, ...], tuple[str, ...]]
        ] = OrderedDict()
        self._max_entries = max_entries
        # One event loop per process in production; tests also call from a second thread.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"OpenedSecrets(<{len(self._entries)} sources, redacted>)"

    async def open(self, box: KeptSecrets, source: UUID, sealed: Sequence[str]) -> list[str]:
        """The values of `sealed` (what the source accepts now), in order; SecretUnsealError
        if `box` cannot open one. Anything else kept for the source is forgotten."""
        key, wanted = (id(box), source), tuple(sealed)
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] is box and found[1] == wanted:
                # Nearly every delivery: the source accepts what it did last time.
                self._entries.move_to_end(key)
                return list(found[2])
        kept = dict(zip(found[1], found[2], strict=True)) if found and found[0] is box else {}
        plain = tuple([kept[s] if s in kept else await box.unseal(s) for s in wanted])
        with self._lock:
            self._entries[key] = (box, wanted, plain)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return list(plain)


OPENED = OpenedSecrets()
"""This process's: every delivery of every source goes through it."""
