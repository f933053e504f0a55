"""The intake's question to the read side: which pipelines of a project a delivery may start."""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

import asyncpg
import msgspec

from commands.webhook_intake_types import Candidate
from projections.pipeline_queries import decode_triggers, pipeline_triggers, triggers_query
from projections.pipeline_rows import PipelineTriggers
from projections.pipelines import DEFINING
from projections.reached import LOOK_AHEAD
from projections.reached import reached as views_reached

log = logging.getLogger(__name__)

_POLL_S = 0.05
_UNDEFINED_BETWEEN = (
    "SELECT NOT EXISTS (SELECT FROM events WHERE type = ANY($1::text[]) "
    "AND position > $2 AND position <= $3)"
)


_CURRENT = (
    "SELECT r.reached >= $4 OR NOT EXISTS (SELECT FROM events e WHERE e.type = ANY('{defining}')"
    " AND e.position > r.reached AND e.position <= $4) AS current, ({triggers}) AS triggers"
    " FROM views_reached(ARRAY[$2::text], $3::bigint) AS r"
)
"""Whether the view answers as at `$4` (it reached it, or nothing between defines, (de)activates
or archives a pipeline), with its candidates for the project `$1`: one round trip where the
reach and the rows were two (three when behind). No array parameter (the event types are this
module's constant), so PostgreSQL can keep one generic plan for it."""


class ViewCandidates:
    """Answers the intake's `Candidates` port from the pipelines view, once it has caught up."""

    def __init__(self, pool: asyncpg.Pool, *, schema: str, view: str | None, wait_s: float) -> None:
        self._pool = pool
        self._schema = schema
        self._view = view
        """The view's checkpoint name, to wait on; None: answer at once (tests own the view)."""
        self._wait_s = wait_s
        self._current_sql = _CURRENT.format(
            defining="{" + ",".join(sorted(DEFINING)) + "}", triggers=triggers_query(schema)
        )

    async def __call__(self, project_id: UUID, *, position: int) -> list[Candidate]:
        async with self._pool.acquire() as conn:
            try:
                found = None
                if self._view is not None:
                    found = await self._current(conn, project_id, position)
                    if found is None:
                        await self._catch_up(conn, position)
                if found is None:
                    found = await pipeline_triggers(conn, self._schema, project_id)
            except asyncpg.UndefinedTableError as error:
                # A fresh database: no projector has built the view yet. Try again later.
                raise ConnectionError(f"the pipelines view is not built yet: {error}") from error
        return [Candidate(**msgspec.structs.asdict(pipeline)) for pipeline in found]

    async def _current(
        self, conn: asyncpg.Connection, project_id: UUID, position: int
    ) -> tuple[PipelineTriggers, ...] | None:
        """The candidates, if the view's answer is the one it gives at `position` (None: not
        yet): the view's reach, what lies between, and its rows in one statement. One
        statement is one snapshot, and `views_reached` is STABLE (it reads in the caller's),
        so the rows are those of the reach it judges."""
        row = await conn.fetchrow(self._current_sql, project_id, self._view, LOOK_AHEAD, position)
        if row is None or not row["current"]:
            return None
        return decode_triggers(row["triggers"])

    async def _catch_up(self, conn: asyncpg.Connection, position: int) -> None:
        # A pipeline created just before the delivery must already be a candidate.
        deadline = asyncio.get_running_loop().time() + self._wait_s
        while True:
            reached = (await views_reached(conn, [self._view])).get(self._view)
            if reached is not None and reached >= position:
                return
            # Behind, but nothing between it and the delivery defines, (de)activates or archives
            # a pipeline (the view lags on the runs the intake itself requests): its answer is
            # the one it will give at the delivery's position.
            if reached is not None and await conn.fetchval(
                _UNDEFINED_BETWEEN, sorted(DEFINING), reached, position
            ):
                return
            if asyncio.get_running_loop().time() >= deadline:
                log.warning(
                    "the %s view is at %s, behind delivery %d: deciding on what it has",
                    self._view,
                    reached,
                    position,
                )
                return
            await asyncio.sleep(_POLL_S)
