"""How far a projection has got, and when its checkpoint row is moved over events it does
not read.

Most commits of the store hold nothing a given projection reads. Moving its checkpoint row on
each of them was a statement per projection per commit (about 40 projections); it is now
moved over such commits at most every `SAVE_EVERY_S`, or with the next batch it does apply
(the batch's transaction moves it from where the row is). Meanwhile the row is behind what
the projection has passed over, but never behind anything it reads, and the waiters for a
position (`projections.reached`) count a projection as at P when none of the events between
its row and P is of a type it reads. A crash takes back at most the moves not yet saved: the
projection then reads those events again and again applies nothing.
"""

from __future__ import annotations

import time

SAVE_EVERY_S = 1.0


class Progress:
    """`position`: every event up to it is applied, or not this projection's to apply.
    `stored`: where its checkpoint row is (at or before `position`)."""

    def __init__(self, stored: int, *, save_every_s: float = SAVE_EVERY_S) -> None:
        self.position = self.stored = stored
        self._every = save_every_s
        self._saved_at = time.monotonic()

    def passed(self, position: int) -> None:
        """Nothing this projection reads is at or before `position`."""
        self.position = max(self.position, position)

    def stored_at(self, position: int) -> None:
        """The checkpoint row is at `position` now (a batch committed, or a save)."""
        self.position = self.stored = position
        self._saved_at = time.monotonic()

    def unsaved(self) -> bool:
        return self.position > self.stored

    def due(self) -> bool:
        """The checkpoint row should follow `position` now."""
        return self.unsaved() and time.monotonic() - self._saved_at >= self._every

    def until_due(self) -> float:
        """Seconds until `due` (0 if it is already)."""
        return max(0.0, self._saved_at + self._every - time.monotonic())
