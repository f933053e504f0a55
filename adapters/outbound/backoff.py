"""When to try a failing delivery again: exponential back-off with full jitter, for a while."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_s: float
    """The first retry waits up to this long."""
    cap_s: float
    """No wait is longer."""
    give_up_after_s: float
    """Once the first attempt is this old, the delivery is parked instead of retried."""

    def delay(self, attempt: int, rand: random.Random | None = None) -> float:
        """Wait after failed attempt `attempt` (1-based): uniform in [0, min(cap, base*2^(n-1))]."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt - 1, 60))
        return (rand or random).uniform(0, ceiling)

    def next_wait(self, attempt: int, elapsed_s: float) -> float | None:
        """How long to wait before attempt `attempt + 1`; None: give up (park)."""
        if elapsed_s >= self.give_up_after_s:
            return None
        wait = self.delay(attempt)
        return min(wait, max(0.0, self.give_up_after_s - elapsed_s))
