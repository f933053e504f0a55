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
from commands.concurrency import CancelSupersededRun, ReleaseConcurrency
from commands.context import CommandContext
from commands.dispatch import DispatchReady, dispatcher_context
from domain.concurrency_group import ConcurrencyGroup
from domain.envelope import EventEnvelope
from domain.errors import DomainError
from domain.run import RUN_ENDS, Run
from projections.rows import ident

log = logging.getLogger(__name__)

NAME = "concurrency_groups"
CLAIMED = Run.ConcurrencyClaimed.event_type
ADMITTED = ConcurrencyGroup.RunAdmitted.event_type
SUPERSEDED = ConcurrencyGroup.RunSuperseded.event_type
Dispatch = Callable[[object, CommandContext], Awaitable[CommandResult]]

DDL = """
CREATE TABLE {s}.grouped_runs (
    run_id uuid PRIMARY KEY
    -- a run that claimed a concurrency group and has not been released from it
);
"""


class GroupProcess:
    """A projection in the runtime's eyes whose `apply` sends the groups' commands."""

    name = NAME
    version = 1
    event_types = frozenset({CLAIMED, ADMITTED, SUPERSEDED}) | RUN_ENDS

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
            if event.type == CLAIMED:
                await conn.execute(
                    f"INSERT INTO {s}.grouped_runs (run_id) VALUES ($1) ON CONFLICT DO NOTHING",
                    UUID(event.stream_id),
                )
            elif event.type == ADMITTED:
                await self._command(DispatchReady(run_id=UUID(str(data["run_id"]))), event)
            elif event.type == SUPERSEDED:
                by = UUID(str(data["by"]))
                await self._command(
                    CancelSupersededRun(run_id=UUID(str(data["run_id"])), by=by), event
                )
            elif await conn.fetchval(
                f"DELETE FROM {s}.grouped_runs WHERE run_id = $1 RETURNING run_id",
                UUID(event.stream_id),
            ):
                await self._command(ReleaseConcurrency(run_id=UUID(event.stream_id)), event)

    async def _command(self, command: object, cause: EventEnvelope) -> None:
        context = dispatcher_context(cause, self._clock())
        try:
            await self._dispatch(command, context)
        except (StoreUnavailable, AppendOutcomeUnknown) as error:
            raise ConnectionError(f"event store: {error}") from error
        except DomainError as error:
            log.info("concurrency groups: %s refused: %s", type(command).__name__, error)
