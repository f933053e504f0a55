"""The runner's free step slots: one is taken before each pull, so it never holds more jobs
than it can run, and given back when the pull brings nothing or the job ends."""

from __future__ import annotations

import asyncio


class Slots:
    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self._changed = asyncio.Event()
        self._closed = False

    async def take(self) -> bool:
        """Wait for a free slot and take it; False (nothing taken) once closed."""
        while not self._closed and self.free == 0:
            self._changed.clear()
            await self._changed.wait()
        if self._closed:
            return False
        self.free -= 1
        return True

    def give(self) -> None:
        self.free += 1
        assert self.free <= self.size, "a slot was given back twice"
        self._changed.set()

    def close(self) -> None:
        self._closed = True
        self._changed.set()


def pulls_per_label(concurrency: int, labels: int) -> int:
    """How many pulls a runner keeps waiting on each label's queue: one per slot, shared
    among its labels (at least one each). A job published while every waiting pull is
    already answered waits for the next pull to be asked for; a pull per slot lets a burst
    of jobs be handed out at once. Shared, so one label's pulls never hold every slot for
    their whole wait while another label's jobs queue."""
    return max(1, concurrency // max(1, labels))
