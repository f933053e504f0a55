"""The dispatcher's jobs that ended in a batch, deleted in one statement instead of one per
event: a step's end and its run's end come together (one commit), and each deleted on its own
cost two statements per run, the second of which found nothing."""

from __future__ import annotations

import asyncpg

from domain.envelope import EventEnvelope
from domain.job_departures import JobDepartures
from domain.run import STEP_ENDS


class EndedJobs:
    """Noted in event order, deleted by `write`; what it leaves is what deleting each in its
    place leaves: a later dispatch of the step in the batch is a later attempt (kept, only
    attempts up to the one that ended go), and nothing is dispatched in a run after its end.
    Write before reading the jobs (a runner taken away, the jobs to publish)."""

    def __init__(self) -> None:
        self._gone = JobDepartures(STEP_ENDS)

    def add(self, event: EventEnvelope) -> bool:
        """Whether `event` ends jobs (then it is noted)."""
        return self._gone.add(event)

    async def write(self, conn: asyncpg.Connection, s: str) -> None:
        if self._gone:
            await conn.execute(
                # Two deletes of rows apart (a run's ending steps are left to its end).
                f"WITH steps AS (DELETE FROM {s}.jobs j USING unnest($1::uuid[], $2::text[], "
                "$3::int[]) AS e(run_id, step, attempt) WHERE j.run_id = e.run_id "
                "AND j.step = e.step AND j.attempt <= e.attempt) "
                f"DELETE FROM {s}.jobs WHERE run_id = ANY($4::uuid[])",
                *self._gone.steps(),
                self._gone.runs,
            )
        self._gone.clear()
