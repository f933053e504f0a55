"""The queues read model: step jobs dispatched and not yet started, per runner label.

A job enters when its attempt is dispatched (`StepDispatched`) and leaves when a runner starts
it or it ends (started, failed `no_runner`, cancelled, its run ended). `waiting_for_runner`
is set by `StepWaitingForRunner`: no registered, live runner served its label when it was
dispatched. The runners that could take a job are read from the runners view when asked.
A project's default queue timeout (`ProjectQueueTimeoutSet`) is kept beside the jobs: it
applies to the project's jobs whose step sets none, including jobs already waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.job_departures import JobDepartures
from domain.run import RUN_ENDS, STEP_ENDS
from projections.rows import ident, occurred_at

NAME = "queues"
JOBS_SHOWN_MAX = 100


class QueuedJob(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    step: str
    attempt: int
    dispatched_at: datetime
    waiting_for_runner: bool
    queue_timeout_s: int | None


class QueueRunner(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    state: str


class Queue(msgspec.Struct, frozen=True, kw_only=True):
    """The jobs waiting for runners with `labels`, and the live runners that have them."""

    labels: tuple[str, ...]
    waiting: int
    waiting_for_runner: int
    """Of them, how many were dispatched when no live runner served these labels."""
    oldest_dispatched_at: datetime
    jobs: tuple[QueuedJob, ...]
    """The oldest jobs, at most JOBS_SHOWN_MAX."""
    runners: tuple[QueueRunner, ...]


DDL = """
CREATE TABLE {s}.runs (
    run_id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    queue_timeouts jsonb NOT NULL
);
CREATE TABLE {s}.jobs (
    run_id uuid NOT NULL,
    step text NOT NULL,
    attempt int NOT NULL,
    project_id uuid NOT NULL,
    label text NOT NULL,
    dispatched_at timestamptz NOT NULL,
    queue_timeout_s int,
    waiting_for_runner boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, step)
);
CREATE INDEX jobs_label ON {s}.jobs (label, dispatched_at);
CREATE TABLE {s}.projects (
    project_id uuid PRIMARY KEY,
    default_queue_timeout_s int
);
"""


class QueuesProjection:
    name = NAME
    version = 2
    event_types = (
        STEP_ENDS
        | RUN_ENDS
        | {"RunRequested", "StepDispatched", "StepWaitingForRunner", "StepStarted"}
        | {"ProjectQueueTimeoutSet"}
    )

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        s = ident(schema)
        requested: list[EventEnvelope] = []
        gone = Departures()
        for event in events:
            if event.type == "RunRequested":
                requested.append(event)
                continue
            if requested:
                await _insert_runs(conn, s, requested)
                requested.clear()
            if not gone.add(event):
                await _apply(conn, s, event)
        if requested:
            await _insert_runs(conn, s, requested)
        await gone.write(conn, s)


class Departures:
    """A batch's jobs that left (started, ended, their run ended) and its runs that ended,
    deleted in one statement at the batch's end instead of one or two per event.

    Deleting them last leaves what deleting each in its place does: a later dispatch in the
    batch is of a later attempt (kept: only attempts up to the one that left go), nothing is
    dispatched in a run after it ended, and a job flagged before it left goes all the same.
    """

    def __init__(self) -> None:
        self._gone = JobDepartures({"StepStarted", *STEP_ENDS})

    def add(self, event: EventEnvelope) -> bool:
        """Whether `event` is one (then it is noted, to be written by `write`)."""
        return self._gone.add(event)

    async def write(self, conn: asyncpg.Connection, s: str) -> None:
        if not self._gone:
            return
        await conn.execute(
            f"WITH left_steps AS (DELETE FROM {s}.jobs j USING unnest($1::uuid[], $2::text[], "
            "$3::int[]) AS e(run_id, step, attempt) WHERE j.run_id = e.run_id "
            "AND j.step = e.step AND j.attempt <= e.attempt), "
            f"ended AS (DELETE FROM {s}.jobs WHERE run_id = ANY($4::uuid[])) "
            f"DELETE FROM {s}.runs WHERE run_id = ANY($4::uuid[])",
            *self._gone.steps(),
            self._gone.runs,
        )


async def _insert_runs(conn: asyncpg.Connection, s: str, events: Sequence[EventEnvelope]) -> None:
    """Consecutive `RunRequested` events in one statement (a webhook burst requests hundreds)."""
    timeouts = [
        {p["name"]: p["queue_timeout_s"] for p in e.data["steps"] if p.get("queue_timeout_s")}
        for e in events
    ]
    await conn.execute(
        f"INSERT INTO {s}.runs SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::jsonb[]) "
        "ON CONFLICT DO NOTHING",
        [UUID(e.stream_id) for e in events],
        [UUID(str(e.data["project_id"])) for e in events],
        [msgspec.json.encode(t).decode() for t in timeouts],
    )


async def _apply(conn: asyncpg.Connection, s: str, event: EventEnvelope) -> None:
    d: dict[str, Any] = event.data
    run_id = UUID(event.stream_id)
    if event.type == "StepDispatched":
        await conn.execute(
            f"INSERT INTO {s}.jobs (run_id, step, attempt, project_id, label, dispatched_at, "
            f"queue_timeout_s) SELECT $1, $2, $3, r.project_id, $4, $5, "
            f"(r.queue_timeouts ->> $2)::int FROM {s}.runs r WHERE r.run_id = $1 "
            "ON CONFLICT (run_id, step) DO UPDATE SET attempt = EXCLUDED.attempt, "
            "label = EXCLUDED.label, dispatched_at = EXCLUDED.dispatched_at, "
            "waiting_for_runner = false",
            run_id,
            d["step"],
            d["attempt"],
            d["label"],
            datetime.fromisoformat(occurred_at(d)),
        )
    elif event.type == "StepWaitingForRunner":
        await conn.execute(
            f"UPDATE {s}.jobs SET waiting_for_runner = true "
            "WHERE run_id = $1 AND step = $2 AND attempt = $3",
            run_id,
            d["step"],
            d["attempt"],
        )
    elif event.type == "ProjectQueueTimeoutSet":
        await conn.execute(
            f"INSERT INTO {s}.projects VALUES ($1, $2) ON CONFLICT (project_id) "
            "DO UPDATE SET default_queue_timeout_s = EXCLUDED.default_queue_timeout_s",
            run_id,  # the project's stream
            d["default_queue_timeout_s"],
        )


async def list_queues(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    runners_schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
) -> list[Queue]:
    """Each label with jobs waiting, oldest first; runners as the runners view shows them."""
    s, r = ident(schema), ident(runners_schema)
    reach = "" if project_ids is None else "WHERE j.project_id = ANY($1::uuid[])"
    args: list[Any] = [] if project_ids is None else [list(project_ids)]
    rows = await conn.fetch(
        f"SELECT j.label, count(*) AS waiting, "
        "count(*) FILTER (WHERE j.waiting_for_runner) AS waiting_for_runner, "
        "min(j.dispatched_at) AS oldest, "
        "(array_agg(jsonb_build_object('run_id', j.run_id, 'step', j.step, 'attempt', "
        "j.attempt, 'dispatched_at', j.dispatched_at, 'waiting_for_runner', "
        "j.waiting_for_runner, 'queue_timeout_s', "
        "coalesce(j.queue_timeout_s, p.default_queue_timeout_s)) "
        f"ORDER BY j.dispatched_at, j.step))[1:{JOBS_SHOWN_MAX}] AS jobs, "
        "array_agg(DISTINCT j.project_id) AS projects "
        f"FROM {s}.jobs j LEFT JOIN {s}.projects p ON p.project_id = j.project_id {reach} "
        "GROUP BY j.label ORDER BY oldest, j.label",
        *args,
    )
    queues = []
    for row in rows:
        jobs = [msgspec.json.decode(j) if isinstance(j, str) else j for j in row["jobs"]]
        runners = await conn.fetch(
            f"SELECT id, name, status FROM {r}.runners WHERE $1 = ANY(labels) "
            "AND status = 'active' AND (project_id IS NULL OR project_id = ANY($2::uuid[])) "
            "ORDER BY name, id",
            row["label"],
            row["projects"],
        )
        queues.append(
            Queue(
                labels=(row["label"],),
                waiting=row["waiting"],
                waiting_for_runner=row["waiting_for_runner"],
                oldest_dispatched_at=row["oldest"],
                jobs=tuple(msgspec.convert(jobs, list[QueuedJob], strict=False)),
                runners=tuple(
                    QueueRunner(id=x["id"], name=x["name"], state="active") for x in runners
                ),
            )
        )
    return queues


async def expired_jobs(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, *, now: datetime, default_s: int
) -> list[asyncpg.Record]:
    """Jobs waiting longer than their queue timeout: the step's, else its project's default,
    else `default_s` (when > 0). `timeout_from` says which: `step`, `project` or `server`."""
    s = ident(schema)
    timeout = "coalesce(j.queue_timeout_s, p.default_queue_timeout_s, $2)"
    return await conn.fetch(
        f"SELECT j.run_id, j.step, j.attempt, {timeout} AS timeout_s, CASE "
        "WHEN j.queue_timeout_s IS NOT NULL THEN 'step' "
        "WHEN p.default_queue_timeout_s IS NOT NULL THEN 'project' ELSE 'server' END "
        f"AS timeout_from FROM {s}.jobs j LEFT JOIN {s}.projects p "
        f"ON p.project_id = j.project_id WHERE {timeout} > 0 AND "
        f"j.dispatched_at + make_interval(secs => {timeout}) <= $1 "
        "ORDER BY j.dispatched_at LIMIT 1000",
        now,
        default_s,
    )
