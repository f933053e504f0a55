"""Which jobs a batch of run events took away, noted in event order so that they can go in one
statement at the batch's end (the dispatcher's jobs, the queues view's).

Per (run, step) the highest attempt that left: a new attempt queued after a failure is kept,
since only attempts up to the one that left go. A run that ended takes all its jobs, so its
steps need no note of their own.
"""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from domain.envelope import EventEnvelope
from domain.run import RUN_ENDS

_ANY_ATTEMPT = 2**31 - 1
"""An event of before attempts were numbered: every attempt of its step."""


class JobDepartures:
    def __init__(self, step_types: Collection[str]) -> None:
        self._step_types = frozenset(step_types)
        self._steps: dict[tuple[UUID, str], int] = {}
        self._runs: set[UUID] = set()

    def add(self, event: EventEnvelope) -> bool:
        """Whether `event` takes jobs away (then it is noted)."""
        if event.type in self._step_types:
            key = (UUID(event.stream_id), event.data["step"])
            attempt = event.data.get("attempt", _ANY_ATTEMPT)
            self._steps[key] = max(attempt, self._steps.get(key, 0))
            return True
        if event.type in RUN_ENDS:
            self._runs.add(UUID(event.stream_id))
            return True
        return False

    def steps(self) -> tuple[list[UUID], list[str], list[int]]:
        """The steps' departures outside the runs that ended, as columns (run, step, attempt)."""
        left = [(key, n) for key, n in self._steps.items() if key[0] not in self._runs]
        return [key[0] for key, _ in left], [key[1] for key, _ in left], [n for _, n in left]

    @property
    def runs(self) -> list[UUID]:
        return list(self._runs)

    def __bool__(self) -> bool:
        return bool(self._steps or self._runs)

    def clear(self) -> None:
        self._steps.clear()
        self._runs.clear()
