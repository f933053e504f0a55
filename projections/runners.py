"""The runners read model: each runner, its labels and state, the step attempts it is running.

State: `offline` (deregistered), `lost` (stopped heartbeating), else `busy` while it runs a
step attempt (reported started, not yet ended) and `idle` otherwise. The last heartbeat is
not an event: it is joined from `runner_heartbeats` when the view is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.run import RUN_ENDS, STEP_ENDS
from projections.degraded import any_degraded
from projections.paging import Page, PageResult, SortKey, Where, fetch_page, page_query
from projections.rows import ident, occurred_at

RunnerState = Literal["idle", "busy", "lost", "offline"]
STATES: tuple[str, ...] = ("idle", "busy", "lost", "offline")


class CurrentJob(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    step: str
    attempt: int
    started_at: datetime


class RunnerRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    project_id: UUID | None
    """None: a runner for every project."""
    labels: tuple[str, ...]
    host: str
    version: str
    concurrency: int
    state: RunnerState
    current_jobs: tuple[CurrentJob, ...]
    last_heartbeat: datetime | None
    registered_at: datetime
    updated_at: datetime
    lost_reason: str | None
    stream_version: int
    degraded: bool = False
    """Events of the runner, or of a run it holds a job of, wait in the view's quarantine
    (`projections/degraded.py`): its state or jobs may be behind."""


DDL = """
CREATE TABLE {s}.runners (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    project_id uuid,
    labels text[] NOT NULL,
    host text NOT NULL,
    version text NOT NULL,
    concurrency int NOT NULL,
    status text NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    last_seen timestamptz,
    lost_reason text,
    stream_version bigint NOT NULL
);
CREATE INDEX runners_name ON {s}.runners (name, id);
CREATE INDEX runners_registered ON {s}.runners (registered_at, id);
CREATE TABLE {s}.runner_jobs (
    run_id uuid NOT NULL,
    step text NOT NULL,
    attempt int NOT NULL,
    -- as the runner reported itself: its id or its name
    runner text NOT NULL,
    started_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE INDEX runner_jobs_runner ON {s}.runner_jobs (runner);
"""

_RUNNER_EVENTS = frozenset(
    {"RunnerRegistered", "RunnerReregistered", "RunnerLost", "RunnerDeregistered"}
)


class RunnersProjection:
    name = "runners"
    version = 1
    event_types = _RUNNER_EVENTS | STEP_ENDS | RUN_ENDS | {"StepStarted"}

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        s = ident(schema)
        # Event by event: few events, and a step's start and end often share a batch.
        for event in events:
            if event.type in self.event_types:
                await _apply(conn, s, event)


async def _apply(conn: asyncpg.Connection, s: str, event: EventEnvelope) -> None:
    d = event.data
    at = datetime.fromisoformat(occurred_at(d))
    stream = UUID(event.stream_id)
    match event.type:
        case "RunnerRegistered":
            await conn.execute(
                f"INSERT INTO {s}.runners VALUES "
                "($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8, NULL, NULL, $9)",
                stream,
                d["name"],
                d["project_id"] and UUID(d["project_id"]),
                list(d["labels"]),
                d["host"],
                d["version"],
                d["concurrency"],
                at,
                event.version,
            )
        case "RunnerReregistered":
            await conn.execute(
                f"UPDATE {s}.runners SET labels = $2, host = $3, version = $4, concurrency = $5, "
                "status = 'active', updated_at = $6, lost_reason = NULL, stream_version = $7 "
                "WHERE id = $1",
                stream,
                list(d["labels"]),
                d["host"],
                d["version"],
                d["concurrency"],
                at,
                event.version,
            )
        case "RunnerLost":
            last_seen = d["last_seen"] and datetime.fromisoformat(d["last_seen"])
            await conn.execute(
                f"UPDATE {s}.runners SET status = 'lost', updated_at = $2, last_seen = $3, "
                "lost_reason = $4, stream_version = $5 WHERE id = $1",
                stream,
                at,
                last_seen,
                d["reason"],
                event.version,
            )
        case "RunnerDeregistered":
            await conn.execute(
                f"UPDATE {s}.runners SET status = 'offline', updated_at = $2, "
                "stream_version = $3 WHERE id = $1",
                stream,
                at,
                event.version,
            )
        case "StepStarted":
            if d.get("runner"):
                await conn.execute(
                    f"INSERT INTO {s}.runner_jobs VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (run_id, step) DO UPDATE SET attempt = EXCLUDED.attempt, "
                    "runner = EXCLUDED.runner, started_at = EXCLUDED.started_at",
                    stream,
                    d["step"],
                    d["attempt"],
                    d["runner"],
                    at,
                )
        case _ if event.type in STEP_ENDS:
            await conn.execute(
                f"DELETE FROM {s}.runner_jobs WHERE run_id = $1 AND step = $2",
                stream,
                d["step"],
            )
        case _ if event.type in RUN_ENDS:
            await conn.execute(f"DELETE FROM {s}.runner_jobs WHERE run_id = $1", stream)


RUNNER_SORTS = {
    "registered_at": SortKey("registered_at"),
    "name": SortKey("name", str),
    "updated_at": SortKey("updated_at"),
}


def _view(s: str) -> str:
    """Each runner with its state, current jobs and last heartbeat, as the API shows it."""
    jobs = (
        f"SELECT coalesce(jsonb_agg(jsonb_build_object('run_id', j.run_id, 'step', j.step, "
        f"'attempt', j.attempt, 'started_at', j.started_at) ORDER BY j.started_at, j.step), "
        f"'[]') FROM {s}.runner_jobs j WHERE j.runner IN (x.id::text, x.name)"
    )
    return (
        f"(SELECT x.id, x.name, x.project_id, x.labels, x.host, x.version, x.concurrency, "
        f"x.registered_at, x.updated_at, x.lost_reason, x.stream_version, "
        f"coalesce(h.seen_at, x.last_seen) AS last_heartbeat, j.current_jobs, "
        f"CASE WHEN x.status = 'offline' THEN 'offline' WHEN x.status = 'lost' THEN 'lost' "
        f"WHEN j.current_jobs <> '[]'::jsonb THEN 'busy' ELSE 'idle' END AS state, "
        f"{_degraded(s)} AS degraded "
        f"FROM {s}.runners x LEFT JOIN runner_heartbeats h ON h.runner_id = x.id, "
        f"LATERAL ({jobs}) AS j(current_jobs)) r"
    )


def _degraded(s: str) -> str:
    held = (
        f"SELECT x.id::text UNION ALL SELECT j.run_id::text FROM {s}.runner_jobs j "
        f"WHERE j.runner IN (x.id::text, x.name)"
    )
    return any_degraded(RunnersProjection.name, held)


def _reach(w: Where, project_ids: tuple[UUID, ...] | None) -> None:
    # A runner for every project serves each of them: every reader of a project sees it.
    if project_ids is not None:
        w.add("(r.project_id IS NULL OR r.project_id = ANY({}::uuid[]))", list(project_ids))


async def list_runners(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    state: str | None = None,
    label: str | None = None,
    page: Page,
) -> PageResult[RunnerRow]:
    w = Where()
    _reach(w, project_ids)
    w.when(state, "r.state = {}")
    w.when(label, "{} = ANY(r.labels)")
    query = page_query(_view(ident(schema)), w, page, RUNNER_SORTS, "registered_at")
    return await fetch_page(conn, query, RunnerRow)


async def get_runner(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    runner_id: UUID,
    *,
    project_ids: tuple[UUID, ...] | None,
) -> RunnerRow | None:
    w = Where()
    w.add("r.id = {}", runner_id)
    _reach(w, project_ids)
    text = await conn.fetchval(
        f"SELECT to_jsonb(r)::text FROM {_view(ident(schema))}{w.sql()}", *w.args
    )
    return None if text is None else msgspec.json.decode(text, type=RunnerRow)
