"""The concurrency-group process manager, served by the projector runtime beside the dispatcher.

It reads the feed in position order from its own checkpoint (one owner at a time) and sends
the commands that move a group on (`commands/concurrency.py`): when a group admits a waiting
run, that run is asked to dispatch its ready steps; when a run is superseded, it is cancelled
with the reason; when a run of a group ends, the group releases it (and admits the next one).
Its one table remembers which runs claimed a group, so an ending run of no group costs nothing.
A crash replays the batch: each command decides nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from adapters.store import AppendOutcomeUnknown, StoreUnavailable
from commands.bus import CommandResult
from commands.concurrency import (
    CancelSupersededRun,
    ReleaseConcurrency,
    ReleaseStepConcurrency,
)
from commands.context import CommandContext
from commands.dispatch import DispatchReady, dispatcher_context
from domain.concurrency_group import ConcurrencyGroup, member_id_for
from domain.envelope import EventEnvelope
from domain.errors import DomainError
from domain.run import RUN_ENDS, STEP_ENDS, Run
from projections.rows import ident

log = logging.getLogger(__name__)

NAME = "concurrency_groups"
CLAIMED = Run.ConcurrencyClaimed.event_type
ADMITTED = ConcurrencyGroup.RunAdmitted.event_type
SUPERSEDED = ConcurrencyGroup.RunSuperseded.event_type
REQUESTED = Run.Requested.event_type
Dispatch = Callable[[object, CommandContext], Awaitable[CommandResult]]

DDL = """
CREATE TABLE {s}.grouped_runs (
    run_id uuid PRIMARY KEY
    -- a run that claimed a concurrency group and has not been released from it
);
CREATE TABLE {s}.grouped_steps (
    member_id uuid PRIMARY KEY,
    run_id uuid NOT NULL,
    step text NOT NULL
    -- a step of a run that queues in a concurrency group of its own
);
CREATE INDEX grouped_steps_run ON {s}.grouped_steps (run_id, step);
"""


class GroupProcess:
    """A projection in the runtime's eyes whose `apply` sends the groups' commands."""

    name = NAME
    version = 1
    event_types = frozenset({CLAIMED, ADMITTED, SUPERSEDED, REQUESTED}) | RUN_ENDS | STEP_ENDS

    def __init__(
        self, dispatch: Dispatch, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._dispatch = dispatch
        self._clock = clock

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        s = ident(schema)
        for event in events:
            data = event.data
            if event.type == REQUESTED:
                await self._steps_grouped(conn, s, event)
            elif event.type in STEP_ENDS:
                grouped = await conn.fetchval(
                    f"SELECT 1 FROM {s}.grouped_steps WHERE run_id = $1 AND step = $2",
                    UUID(event.stream_id),
                    data["step"],
                )
                if grouped:
                    release = ReleaseStepConcurrency(
                        run_id=UUID(event.stream_id), step=data["step"]
                    )
                    await self._command(release, event)
            elif event.type == CLAIMED:
                await conn.execute(
                    f"INSERT INTO {s}.grouped_runs (run_id) VALUES ($1) ON CONFLICT DO NOTHING",
                    UUID(event.stream_id),
                )
            elif event.type == ADMITTED:
                member = UUID(str(data["run_id"]))
                # A step's place names its run in this table; a run's place is the run.
                row = await conn.fetchrow(
                    f"SELECT run_id, step FROM {s}.grouped_steps WHERE member_id = $1", member
                )
                await self._command(DispatchReady(run_id=row["run_id"] if row else member), event)
                if row is not None:
                    # A step that ended while it joined (a race with its release) lets go.
                    release = ReleaseStepConcurrency(run_id=row["run_id"], step=row["step"])
                    await self._command(release, event)
            elif event.type == SUPERSEDED:
                by = UUID(str(data["by"]))
                await self._command(
                    CancelSupersededRun(run_id=UUID(str(data["run_id"])), by=by), event
                )
            else:
                await self._run_ended(conn, s, event)

    async def _steps_grouped(self, conn: asyncpg.Connection, s: str, event: EventEnvelope) -> None:
        run_id = UUID(event.stream_id)
        for step in event.data.get("steps") or ():
            if step.get("group_key"):
                await conn.execute(
                    f"INSERT INTO {s}.grouped_steps (member_id, run_id, step) "
                    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    member_id_for(run_id, step["name"]),
                    run_id,
                    step["name"],
                )

    async def _run_ended(self, conn: asyncpg.Connection, s: str, event: EventEnvelope) -> None:
        run_id = UUID(event.stream_id)
        # Its steps ended before it did, each released as it ended. One round trip for both.
        if await conn.fetchval(
            f"WITH steps AS (DELETE FROM {s}.grouped_steps WHERE run_id = $1) "
            f"DELETE FROM {s}.grouped_runs WHERE run_id = $1 RETURNING run_id",
            run_id,
        ):
            await self._command(ReleaseConcurrency(run_id=run_id), event)

    async def _command(self, command: object, cause: EventEnvelope) -> None:
        context = dispatcher_context(cause, self._clock())
        try:
            await self._dispatch(command, context)
        except (StoreUnavailable, AppendOutcomeUnknown) as error:
            raise ConnectionError(f"event store: {error}") from error
        except DomainError as error:
            log.info("concurrency groups: %s refused: %s", type(command).__name__, error)
