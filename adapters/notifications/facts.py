"""What a notification says, read from the read models as they stood once they had taken the
event in: the run (its pipeline, branch, failure), whether it recovered, the rules to tell.

A run *recovered* when it succeeded and, of the other runs of the same pipeline and branch
(no branch counts as one more branch), the one that finished last before it failed or timed
out. Cancelled runs, and runs still going, are passed over: they say nothing of health.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from projections.projection import live_schema
from projections.reached import reached as views_reached
from projections.rows import ident

VIEWS = ("runs", "pipelines", "notification_rules")
POLL_S = 0.05


async def caught_up(pool: asyncpg.Pool, position: int, wait_s: float) -> bool:
    """Whether every view the notifier reads has reached `position` within `wait_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        reached = await views_reached(pool, VIEWS)
        if len(reached) == len(VIEWS) and min(reached.values()) >= position:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL_S)


@dataclass(frozen=True)
class RunFacts:
    id: UUID
    project_id: UUID
    pipeline_id: UUID
    pipeline: str
    branch: str | None
    ref: str | None
    status: str
    failure_reason: str | None
    failed_step: str | None
    finished_at: datetime | None


async def run_facts(conn: asyncpg.Pool | asyncpg.Connection, run_id: UUID) -> RunFacts | None:
    runs, pipelines = ident(live_schema("runs")), ident(live_schema("pipelines"))
    row = await conn.fetchrow(
        "SELECT r.id, r.project_id, r.pipeline_id, coalesce(p.name, 'pipeline') AS pipeline,"
        " r.branch, r.ref, r.status, r.failure_reason, r.failed_step, r.finished_at"
        f" FROM {runs}.runs r LEFT JOIN {pipelines}.pipelines p ON p.id = r.pipeline_id"
        " WHERE r.id = $1",
        run_id,
    )
    return None if row is None else RunFacts(**dict(row))


async def recovered(conn: asyncpg.Pool | asyncpg.Connection, run: RunFacts) -> bool:
    """Whether `run` (succeeded) follows a failure on its pipeline and branch (see above)."""
    if run.finished_at is None:
        return False
    previous = await conn.fetchval(
        f"SELECT status FROM {ident(live_schema('runs'))}.runs"
        " WHERE pipeline_id = $1 AND branch IS NOT DISTINCT FROM $2 AND id <> $3"
        " AND status IN ('succeeded', 'failed', 'timed_out')"
        " AND (finished_at, id) < ($4, $3) ORDER BY finished_at DESC, id DESC LIMIT 1",
        run.pipeline_id,
        run.branch,
        run.id,
        run.finished_at,
    )
    return previous in ("failed", "timed_out")


def matches(pipeline_id: UUID | None, branch: str | None, run: RunFacts | None) -> bool:
    """A rule's filters against a run (filters narrow run triggers only)."""
    if run is None:
        return True
    if pipeline_id is not None and pipeline_id != run.pipeline_id:
        return False
    return branch is None or branch in (run.branch, run.ref)
