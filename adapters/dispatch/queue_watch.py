"""Queues you can see: the queue watch flags jobs no live runner serves, and its reaper fails
jobs nobody started within their queue timeout with `no_runner`.

The watch is a process manager served by the projector runtime (like the dispatch process):
it reads runner and dispatch events in position order, so when a `StepDispatched` arrives its
table of runners is exactly the fleet at that moment, and it sends `FlagWaitingForRunner` when
no registered, live runner (of the run's project, or shared) has the job's label. The reaper
reads the queues view (`projections/queues.py`) every few seconds and sends
`ExpireQueuedStep` for each job past its step's `queue_timeout_s` (else its project's default,
else the server's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from adapters.store import AppendOutcomeUnknown, StoreUnavailable
from adapters.telemetry.metrics import QUEUE_EVENTS
from commands.bus import CommandResult
from commands.context import CommandContext
from commands.dispatch import DISPATCHER, dispatcher_context
from commands.queues import ExpireQueuedStep, FlagWaitingForRunner
from domain.envelope import EventEnvelope
from domain.errors import DomainError
from domain.run import RUN_ENDS
from projections import queues
from projections.projection import live_schema
from projections.rows import ident
from projections.runtime import VIEWS_LINGER_S

log = logging.getLogger(__name__)

NAME = "queue_watch"
Dispatch = Callable[[object, CommandContext], Awaitable[CommandResult]]

DDL = """
CREATE TABLE {s}.runs (run_id uuid PRIMARY KEY, project_id uuid NOT NULL);
CREATE TABLE {s}.runners (
    runner_id uuid PRIMARY KEY,
    project_id uuid,
    labels text[] NOT NULL,
    live boolean NOT NULL
);
"""


class QueueWatch:
    name = NAME
    version = 1
    event_types = RUN_ENDS | {
        "RunRequested",
        "StepDispatched",
        "RunnerRegistered",
        "RunnerReregistered",
        "RunnerLost",
        "RunnerDeregistered",
    }
    linger_s = VIEWS_LINGER_S
    """Off the run path (it flags a job no runner serves, which waits anyway): it waits a
    moment once woken, so that close commits share one batch, and leaves the dispatch process
    beside it the process's time."""

    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        s = ident(schema)
        unserved: list[tuple[FlagWaitingForRunner, EventEnvelope]] = []
        ended: list[UUID] = []
        for event in events:
            d, stream = event.data, UUID(event.stream_id)
            match event.type:
                case "RunRequested":
                    await conn.execute(
                        f"INSERT INTO {s}.runs VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        stream,
                        UUID(str(d["project_id"])),
                    )
                case "RunnerRegistered":
                    await conn.execute(
                        f"INSERT INTO {s}.runners VALUES ($1, $2, $3, true) ON CONFLICT "
                        "(runner_id) DO UPDATE SET labels = EXCLUDED.labels, live = true",
                        stream,
                        d["project_id"] and UUID(str(d["project_id"])),
                        list(d["labels"]),
                    )
                case "RunnerReregistered":
                    await conn.execute(
                        f"UPDATE {s}.runners SET labels = $2, live = true WHERE runner_id = $1",
                        stream,
                        list(d["labels"]),
                    )
                case "RunnerLost" | "RunnerDeregistered":
                    await conn.execute(
                        f"UPDATE {s}.runners SET live = false WHERE runner_id = $1", stream
                    )
                case "StepDispatched":
                    if not await _served(conn, s, stream, d["label"]):
                        flag = FlagWaitingForRunner(
                            run_id=stream, step=d["step"], attempt=d["attempt"],
                            labels=(d["label"],),
                        )  # fmt: skip
                        unserved.append((flag, event))
                case _:  # the run ended: nothing of it is read after its end
                    ended.append(stream)
        if ended:
            await conn.execute(f"DELETE FROM {s}.runs WHERE run_id = ANY($1::uuid[])", ended)
        for command, cause in unserved:
            await self._send(command, cause)

    async def _send(self, command: FlagWaitingForRunner, cause: EventEnvelope) -> None:
        context = dispatcher_context(cause, datetime.now(UTC))
        try:
            await self._dispatch(command, context)
            QUEUE_EVENTS.labels("waiting_for_runner").inc()
        except (StoreUnavailable, AppendOutcomeUnknown) as error:
            raise ConnectionError(f"event store: {error}") from error
        except DomainError as error:  # started or ended meanwhile: nothing to flag
            log.info("queue watch: %s/%s not flagged: %s", command.run_id, command.step, error)


async def _served(conn: asyncpg.Connection, s: str, run_id: UUID, label: str) -> bool:
    return bool(
        await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {s}.runners x LEFT JOIN {s}.runs r "
            "ON r.run_id = $1 WHERE x.live AND $2 = ANY(x.labels) AND "
            "(x.project_id IS NULL OR x.project_id = r.project_id))",
            run_id,
            label,
        )
    )


class QueueReaper:
    """Fails `no_runner` every job waiting past its queue timeout (0: the server sets none)."""

    def __init__(
        self,
        dispatch: Dispatch,
        pool: asyncpg.Pool,
        *,
        default_timeout_s: int,
        every_s: float,
        schema: str = live_schema(queues.NAME),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dispatch, self._pool, self._schema = dispatch, pool, schema
        self._default_s, self._every_s, self._clock = default_timeout_s, every_s, clock
        self._sent: set[tuple[UUID, str, int]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.expire(self._clock())
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database may be away: try again next round
                log.warning("queue reaper: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every_s)

    async def expire(self, now: datetime) -> int:
        """Send ExpireQueuedStep for each job past its timeout; how many were failed."""
        try:
            rows = await queues.expired_jobs(
                self._pool, self._schema, now=now, default_s=self._default_s
            )
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            return 0  # the view is not built yet
        expired = 0
        if len(self._sent) > 10_000:
            self._sent.clear()  # long since failed or started: the view has caught up
        for row in rows:
            key = (row["run_id"], row["step"], row["attempt"])
            if key in self._sent:
                continue  # sent; the view has not seen the step fail yet
            command = ExpireQueuedStep(
                run_id=row["run_id"], step=row["step"], attempt=row["attempt"],
                timeout_s=row["timeout_s"], timeout_from=row["timeout_from"],
            )  # fmt: skip
            context = CommandContext(
                principal=DISPATCHER, at=now, correlation_id=f"queue-timeout:{row['run_id']}"
            )
            try:
                await self._dispatch(command, context)
                expired += 1
                QUEUE_EVENTS.labels("no_runner").inc()
            except DomainError as error:  # started meanwhile, or the run ended
                log.info("queue reaper: %s/%s: %s", row["run_id"], row["step"], error)
            self._sent.add(key)
        return expired
