"""The dispatch process manager, served by the projector runtime like the webhook intake.

It reads run, step and runner events in position order, with its checkpoint in
`projection_checkpoints` and one owner at a time. It does the I/O (its tables, the commands it
sends through the bus, NATS); what it decides comes from `commands.dispatch`. Its tables are
its own memory: which jobs are dispatched and not finished (and who started them), and which
runners are gone. Before a batch's transaction opens (`before_batch`), it dispatches the runs
requested in it that join no group, as in (1). From a batch it (1) asks each woken run to
dispatch its ready steps (`DispatchReady` records `StepDispatched` on the run: the record
comes first) and publishes those jobs at once, before any of its own statements, since a run
requested waits for all of them (`adapters/dispatch/woken.py`); (2) keeps its
tables, (3) fails `runner_lost` the attempts of runners that are gone (a retry they queue
wakes its run in a later batch), and (4) publishes every job recorded in the batch that is
still waiting and was not sent yet, before the checkpoint moves. A crash anywhere replays the
batch: the commands decide nothing twice, and a republished job carries the same `Nats-Msg-Id`,
which JetStream drops.

Publishing at once, rather than when the `StepDispatched` comes back through the feed, saves a
round of the feed (a notification and a batch) on every job; the feed's copy is the safety net.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from adapters.dispatch.ended_jobs import EndedJobs
from adapters.dispatch.jobs import JobPublisher
from adapters.dispatch.woken import WokenRuns
from adapters.store import AppendOutcomeUnknown, StoreUnavailable
from adapters.telemetry.metrics import RUNNER_JOBS
from adapters.telemetry.tracing import span
from commands.bus import CommandResult
from commands.context import CommandContext
from commands.dispatch import (
    TAKES_A_RUNNER_AWAY,
    WAKES_A_RUN,
    LostAttempt,
    dispatcher_context,
    fail_lost,
    runs_to_wake,
    stays_gone,
    still_to_publish,
)
from domain.envelope import EventEnvelope
from domain.errors import DomainError
from domain.run import RUN_ENDS, STEP_ENDS
from domain.run_dispatch import RUNNER_LOST
from projections.rows import ident

log = logging.getLogger(__name__)

NAME = "dispatcher"
_TRANSIENT = (StoreUnavailable, AppendOutcomeUnknown)
Dispatch = Callable[[object, CommandContext], Awaitable[CommandResult]]

DDL = """
CREATE TABLE {s}.jobs (
    job_id uuid PRIMARY KEY,
    run_id uuid NOT NULL,
    step text NOT NULL,
    attempt int NOT NULL,
    label text NOT NULL,
    dispatched_at timestamptz NOT NULL,
    traceparent text,
    runner text
    -- runner: who reported it running (its id or name); NULL while it waits for a runner
);
CREATE INDEX jobs_run ON {s}.jobs (run_id, step);
CREATE INDEX jobs_runner ON {s}.jobs (runner) WHERE runner IS NOT NULL;
CREATE TABLE {s}.runners (
    runner_id uuid PRIMARY KEY,
    name text NOT NULL,
    gone boolean NOT NULL
);
"""


class DispatchProcess:
    """A projection in the runtime's eyes whose `apply` sends commands and publishes jobs."""

    name = NAME
    version = 1
    event_types = (
        WAKES_A_RUN
        | STEP_ENDS
        | RUN_ENDS
        | TAKES_A_RUNNER_AWAY
        | {"StepDispatched", "StepStarted", "RunnerRegistered"}
    )

    def __init__(
        self,
        dispatch: Dispatch,
        publisher: JobPublisher,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dispatch = dispatch
        self._publisher = publisher
        self._clock = clock
        self._woken = WokenRuns(self._command, publisher, clock)
        self._early: set[UUID] = set()
        """Runs of the batch at hand that `before_batch` dispatched already."""

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def before_batch(self, events: Sequence[EventEnvelope]) -> None:
        """The runs requested in the batch that join no concurrency group, dispatched before
        the runtime opens the batch's transaction and moves the checkpoint: a run requested
        waits for those two statements otherwise. Their dispatch reads none of this process's
        tables, and a replayed batch dispatches nothing twice. (Only requested runs: a new
        stream is quarantined nowhere yet, and they go side by side in `apply` anyway.)"""
        self._early = set()
        woken = runs_to_wake([(event, event.data) for event in events])
        requested = {
            run_id: cause
            for run_id, cause in woken.items()
            if cause.type == "RunRequested" and await self._woken.groupless(cause)
        }
        try:
            await self._woken.dispatch(requested)
        except ConnectionError:
            raise
        except Exception as error:  # `apply` dispatches them again, where its errors count
            log.warning("dispatcher: requested runs not dispatched ahead: %s", error)
            return
        self._early = set(requested)

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        s = ident(schema)
        batch = [(event, event.data) for event in events]
        # The woken runs first: their dispatch reads none of the tables below, and every
        # statement ahead of it would be waited for by each run requested in this batch.
        woken = runs_to_wake(batch)
        for run_id in self._early:
            woken.pop(run_id, None)
        await self._woken.dispatch(woken)
        recorded: list[UUID] = []
        lost: list[tuple[LostAttempt, EventEnvelope]] = []
        ended = EndedJobs()
        for event, d in batch:
            if ended.add(event):  # deleted with the batch's other ended jobs, below
                continue
            stream = UUID(event.stream_id)
            if event.type == "StepDispatched":
                recorded.append(UUID(str(d["job_id"])))
                await conn.execute(
                    f"INSERT INTO {s}.jobs (job_id, run_id, step, attempt, label, "
                    "dispatched_at, traceparent) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                    "ON CONFLICT (job_id) DO NOTHING",
                    UUID(str(d["job_id"])),
                    stream,
                    d["step"],
                    d["attempt"],
                    d["label"],
                    datetime.fromisoformat(d["occurred_at"]),
                    event.metadata.traceparent,
                )
            elif event.type == "StepStarted":
                await self._started(conn, s, stream, d, event, lost)
            elif event.type == "RunnerRegistered":
                await conn.execute(
                    f"INSERT INTO {s}.runners (runner_id, name, gone) VALUES ($1, $2, false) "
                    "ON CONFLICT (runner_id) DO UPDATE SET gone = false",
                    stream,
                    d["name"],
                )
            elif event.type in TAKES_A_RUNNER_AWAY:
                await ended.write(conn, s)  # it reads which jobs the runner had
                await self._runner_gone(conn, s, stream, event, lost)
        await ended.write(conn, s)
        await self._fail_lost(lost)
        await self._publish(conn, s, recorded)

    async def _started(
        self,
        conn: asyncpg.Connection,
        s: str,
        run_id: UUID,
        d: dict[str, Any],
        event: EventEnvelope,
        lost: list[tuple[LostAttempt, EventEnvelope]],
    ) -> None:
        runner = d.get("runner") or ""
        # One round trip: the job's runner recorded (a data-modifying WITH always runs), and
        # whether that runner is already gone (its report raced the reaper: it never finishes).
        gone = await conn.fetchval(
            f"WITH started AS (UPDATE {s}.jobs SET runner = $4 "
            "WHERE run_id = $1 AND step = $2 AND attempt = $3) "
            f"SELECT gone FROM {s}.runners WHERE runner_id::text = $4 OR name = $4 LIMIT 1",
            run_id,
            d["step"],
            d["attempt"],
            runner,
        )
        if gone:
            attempt = LostAttempt(
                run_id=run_id, step=d["step"], attempt=d["attempt"], runner=d.get("runner")
            )
            lost.append((attempt, event))

    async def _runner_gone(
        self,
        conn: asyncpg.Connection,
        s: str,
        runner_id: UUID,
        event: EventEnvelope,
        lost: list[tuple[LostAttempt, EventEnvelope]],
    ) -> None:
        name = await conn.fetchval(
            f"UPDATE {s}.runners SET gone = $2 WHERE runner_id = $1 RETURNING name",
            runner_id,
            stays_gone(event.type),
        )
        rows = await conn.fetch(
            f"SELECT run_id, step, attempt, runner FROM {s}.jobs WHERE runner = $1 OR runner = $2",
            str(runner_id),
            name or str(runner_id),
        )
        lost.extend((LostAttempt(**dict(row)), event) for row in rows)

    async def _fail_lost(self, lost: list[tuple[LostAttempt, EventEnvelope]]) -> None:
        for attempt, cause in lost:
            await self._command(fail_lost(attempt), cause)
            RUNNER_JOBS.labels(RUNNER_LOST).inc()

    async def _command(
        self, command: object, cause: EventEnvelope, *, at: datetime | None = None
    ) -> CommandResult | None:
        context = dispatcher_context(cause, at or self._clock())
        try:
            # The command joins the trace of the event that caused it, not the batch's span.
            with span(f"dispatcher {type(command).__name__}", continues=context.traceparent):
                return await self._dispatch(command, context)
        except _TRANSIENT as error:
            raise ConnectionError(f"event store: {error}") from error
        except DomainError as error:
            # Already moved on (a stale attempt, a finished run): nothing left to do.
            log.info("dispatcher: %s refused: %s", type(command).__name__, error)
            return None

    async def _publish(self, conn: asyncpg.Connection, s: str, recorded: list[UUID]) -> None:
        unsent, self._woken.sent = still_to_publish(recorded, self._woken.sent)
        if not unsent:
            return
        # Still waiting once the whole batch is applied: a job that already ended (a rebuild,
        # a replay) is not sent again.
        rows = await conn.fetch(
            f"SELECT * FROM {s}.jobs WHERE job_id = ANY($1::uuid[]) AND runner IS NULL "
            "ORDER BY dispatched_at, job_id",
            unsent,
        )
        for row in rows:
            await publish_row(self._publisher, row)


async def publish_row(publisher: JobPublisher, row: asyncpg.Record) -> None:
    job = await publisher.job(
        row["run_id"],
        row["step"],
        row["attempt"],
        row["label"],
        dispatched_at=row["dispatched_at"],
        traceparent=row["traceparent"],
    )
    try:
        await publisher.publish(job)
    except Exception as error:
        # The batch is retried on a fresh connection; the copy already sent is de-duplicated.
        raise ConnectionError(f"publishing job {job.job_id}: {error}") from error


async def waiting_jobs(conn: asyncpg.Connection | asyncpg.Pool, schema: str) -> list[Any]:
    """Every job recorded and not yet reported running: what a restart publishes again."""
    return await conn.fetch(
        f"SELECT * FROM {ident(schema)}.jobs WHERE runner IS NULL ORDER BY dispatched_at, job_id"
    )
