"""The webhook sources' signing secrets, opened once per process instead of once per delivery.

Opening a source's secret costs a read of `kept_secrets` and two AES-GCM opens; on every
delivery that was a round trip of its own. What a sealed text (`kept:v1:<ref>`, or an older
event's ciphertext) stands for never changes: a rotation keeps the new secret under a new
reference, and an instance key rotation re-wraps a value without changing it. So the opened
value is kept here by its sealed text, and which sealed texts a delivery may be signed with is
still the source's decision alone (`WebhookSource.accepted_secrets`), on the source as
PostgreSQL holds it when the delivery arrives (`sources.find_source` reads the stream's tail
every time). A secret rotated out (its grace over, or cut by a later rotation) or a source
disabled stops verifying at once, in every process, whatever this cache still holds.

The price: a source's secret stays in this process's memory while it is in use (at most
MAX_ENTRIES values, the least recently used dropped first). It is never logged, pickled or sent
anywhere. A value that cannot be opened is not kept: the next delivery asks again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from adapters.secrets.kept import KeptSecrets

MAX_ENTRIES = 1024


class OpenedSecrets:
    """Sealed text -> secret, per box (another instance key opens nothing of another's)."""

    __slots__ = ("_entries", "_lock", "_max_entries")

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be 1 or more, got {max_entries}")
        # Keyed by the box's identity; the entry holds the box, so that identity stays its own.
        self._entries: OrderedDict[tuple[int, str], tuple[KeptSecrets, str]] = OrderedDict()
        self._max_entries = max_entries
        # One event loop per process in production; tests also call from a second thread.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"OpenedSecrets(<{len(self._entries)} redacted>)"

    async def open(self, box: KeptSecrets, sealed: str) -> str:
        """What `sealed` stands for; SecretUnsealError (not kept) if `box` cannot open it."""
        key = (id(box), sealed)
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] is box:
                self._entries.move_to_end(key)
                return found[1]
        plain = await box.unseal(sealed)
        with self._lock:
            self._entries[key] = (box, plain)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return plain


OPENED = OpenedSecrets()
"""This process's: every delivery of every source goes through it."""
