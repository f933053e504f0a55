"""The dispatcher's jobs that ended in a batch, deleted in one statement instead of one per
event: a step's end and its run's end come together (one commit), and each deleted on its own
cost two statements per run, the second of which found nothing."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from domain.envelope import EventEnvelope
from domain.run import RUN_ENDS, STEP_ENDS


class EndedJobs:
    """Noted in event order, deleted by `write`; what it leaves is what deleting each in its
    place leaves: a later dispatch of the step in the batch is a later attempt (kept, only
    attempts up to the one that ended go), and nothing is dispatched in a run after its end.
    Write before reading the jobs (a runner taken away, the jobs to publish)."""

    def __init__(self) -> None:
        self._steps: dict[tuple[UUID, str], int] = {}
        self._runs: set[UUID] = set()

    def add(self, event: EventEnvelope) -> bool:
        """Whether `event` ends jobs (then it is noted)."""
        if event.type in STEP_ENDS:
            key = (UUID(event.stream_id), event.data["step"])
            # A new attempt is queued after a failure: only attempts up to this one end.
            attempt = event.data.get("attempt", 2**31 - 1)
            self._steps[key] = max(attempt, self._steps.get(key, 0))
            return True
        if event.type in RUN_ENDS:
            self._runs.add(UUID(event.stream_id))
            return True
        return False

    async def write(self, conn: asyncpg.Connection, s: str) -> None:
        steps = [(key, n) for key, n in self._steps.items() if key[0] not in self._runs]
        if steps or self._runs:
            await conn.execute(
                # Two deletes of rows apart (a run's ending steps are left to its end).
                f"WITH steps AS (DELETE FROM {s}.jobs j USING unnest($1::uuid[], $2::text[], "
                "$3::int[]) AS e(run_id, step, attempt) WHERE j.run_id = e.run_id "
                "AND j.step = e.step AND j.attempt <= e.attempt) "
                f"DELETE FROM {s}.jobs WHERE run_id = ANY($4::uuid[])",
                [key[0] for key, _ in steps],
                [key[1] for key, _ in steps],
                [n for _, n in steps],
                list(self._runs),
            )
        self._steps.clear()
        self._runs.clear()
