"""The statistics read model: one compact row per run; counts, rates and percentiles at query time.

A run counts on the day (UTC) it was requested, whatever day it finishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.run_statuses import RunStatus
from projections.paging import InvalidQuery, Where
from projections.rows import Row, ident, load, ms_between, occurred_at, save, stored_streams


class DayStats(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    runs: int
    succeeded: int
    failed: int
    cancelled: int
    timed_out: int
    duration_ms_total: int
    """Summed over the day's runs that started and finished."""


class RunStats(msgspec.Struct, frozen=True, kw_only=True):
    since: datetime | None
    """Runs requested from `since` (None: from the first) up to `until`."""
    until: datetime
    runs_total: int
    by_status: dict[str, int]
    """Every run status, with its count."""
    success_rate: float | None
    """Succeeded over succeeded, failed and timed out (a cancelled run is no verdict)."""
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    metrics: dict[str, float]
    """Step metrics (tokens, cost...) summed over every attempt of every step."""
    daily: tuple[DayStats, ...]
    """One entry per day of the window, oldest first; empty when there is no window."""
    degraded: bool = False
    """Events of a run counted here wait in the view's quarantine, or of a run the view never
    got to know (whose it is, nobody can tell): the figures may be missing events."""


class PipelineAnalytics(RunStats, frozen=True, kw_only=True):
    pipeline_id: UUID


class Summary(RunStats, frozen=True, kw_only=True):
    pipelines: int
    """Pipelines with a run in the window."""
    projects: int
    """Projects with a run in the window."""


STAT_COLUMNS = (
    "id",
    "project_id",
    "pipeline_id",
    "status",
    "queued_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "metrics",
)
_STATUS = {
    "RunStarted": RunStatus.RUNNING,
    "RunCancelRequested": RunStatus.CANCELLING,
    "RunSucceeded": RunStatus.SUCCEEDED,
    "RunFailed": RunStatus.FAILED,
    "RunCancelled": RunStatus.CANCELLED,
    "RunTimedOut": RunStatus.TIMED_OUT,
}

DDL = """
CREATE TABLE {s}.stat_runs (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    pipeline_id uuid NOT NULL,
    status text NOT NULL,
    queued_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    duration_ms bigint,
    metrics jsonb NOT NULL
);
CREATE INDEX stat_runs_pipeline ON {s}.stat_runs (pipeline_id, queued_at)
    INCLUDE (status, duration_ms);
CREATE INDEX stat_runs_project ON {s}.stat_runs (project_id, queued_at)
    INCLUDE (status, duration_ms, pipeline_id);
CREATE INDEX stat_runs_queued ON {s}.stat_runs (queued_at);
"""


class PipelineStatsProjection:
    name = "pipeline_stats"
    version = 1
    event_types = frozenset(
        {"RunRequested", *_STATUS, "StepSucceeded", "StepFailed", "StepTimedOut"}
    )

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        touched = stored_streams(events, "RunRequested")
        runs = {r["id"]: r for r in await load(conn, schema, "stat_runs", "id", touched)}
        for event in events:
            d = event.data
            at = occurred_at(d)
            if event.type == "RunRequested":
                runs[event.stream_id] = _requested(event.stream_id, d, at)
                continue
            run = runs[event.stream_id]
            if status := _STATUS.get(event.type):
                run["status"] = status
                if status is RunStatus.RUNNING:
                    run["started_at"] = at
                elif status is not RunStatus.CANCELLING:
                    duration = ms_between(run["started_at"], at)
                    run.update(finished_at=at, duration_ms=duration)
            else:
                totals = run["metrics"]
                # One by one, in event order: the same floats however the batches fall.
                for key, value in d["metrics"].items():
                    totals[key] = totals.get(key, 0.0) + value
        await save(conn, schema, "stat_runs", runs.values(), key=("id",), columns=STAT_COLUMNS)


def _requested(run_id: str, d: dict[str, Any], at: str) -> Row:
    return {
        "id": run_id,
        "project_id": d["project_id"],
        "pipeline_id": d["pipeline_id"],
        "status": RunStatus.QUEUED,
        "queued_at": at,
        "started_at": None,
        "finished_at": None,
        "duration_ms": None,
        "metrics": {},
    }


# Queries

# A run waiting for approval is running to this view (the runs view alone shows the wait).
_COUNTS = ", ".join(
    f"'{s}', count(*) FILTER (WHERE status = '{s}')"
    for s in RunStatus
    if s is not RunStatus.WAITING_FOR_APPROVAL
)
_STATS = f"""
WITH w AS (SELECT * FROM {{s}}.stat_runs r{{where}})
SELECT jsonb_build_object(
    'runs_total', (SELECT count(*) FROM w),
    'by_status', (SELECT jsonb_build_object({_COUNTS}) FROM w),
    'p50_duration_ms', (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) FROM w),
    'p95_duration_ms', (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FROM w),
    'metrics', (SELECT coalesce(jsonb_object_agg(key, total), '{{{{}}}}') FROM (
        SELECT m.key, sum(m.value::float8) AS total
        FROM w, jsonb_each_text(w.metrics) m GROUP BY m.key) t),
    'daily', (SELECT coalesce(jsonb_agg(d), '[]') FROM (
        SELECT (queued_at AT TIME ZONE 'UTC')::date AS day, count(*) AS runs,
            count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
            count(*) FILTER (WHERE status = 'failed') AS failed,
            count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
            count(*) FILTER (WHERE status = 'timed_out') AS timed_out,
            coalesce(sum(duration_ms), 0) AS duration_ms_total
        FROM w GROUP BY 1) d),
    'pipelines', (SELECT count(DISTINCT pipeline_id) FROM w),
    'projects', (SELECT count(DISTINCT project_id) FROM w),
    'degraded', EXISTS (SELECT 1 FROM projection_quarantine q
        WHERE q.projection = 'pipeline_stats' AND (q.stream_id IN (SELECT id::text FROM w)
        OR NOT EXISTS (SELECT 1 FROM {{s}}.stat_runs x WHERE x.id::text = q.stream_id)))
)::text
"""


async def pipeline_analytics(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    pipeline_id: UUID,
    *,
    days: int | None = 30,
    until: datetime | None = None,
) -> PipelineAnalytics:
    """The pipeline's runs requested in the last `days` (None: ever) before `until` (now)."""
    w = Where()
    w.add("r.pipeline_id = {}", pipeline_id)
    return await _stats(conn, schema, w, days, until, PipelineAnalytics, pipeline_id=pipeline_id)


async def summary(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    days: int | None = 30,
    until: datetime | None = None,
) -> Summary:
    """Every run the caller may see (`project_ids`; None: all projects) in the window."""
    w = Where()
    w.within("r.project_id", project_ids)
    return await _stats(conn, schema, w, days, until, Summary)


async def _stats(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    w: Where,
    days: int | None,
    until: datetime | None,
    result: type[RunStats],
    **extra: Any,
) -> Any:
    if days is not None and not 1 <= days <= 3660:
        raise InvalidQuery("days", "from 1 to 3660")
    until = until or datetime.now(UTC)
    since = None if days is None else until - timedelta(days=days)
    w.when(since, "r.queued_at >= {}")
    w.add("r.queued_at < {}", until)
    text = await conn.fetchval(_STATS.format(s=ident(schema), where=w.sql()), *w.args)
    raw = msgspec.json.decode(text)
    counts = raw["by_status"]
    verdicts = counts["succeeded"] + counts["failed"] + counts["timed_out"]
    return msgspec.convert(
        {
            **raw,
            **extra,
            "since": since,
            "until": until,
            "success_rate": counts["succeeded"] / verdicts if verdicts else None,
            "daily": _every_day(raw["daily"], since, until),
        },
        result,
    )


def _every_day(found: list[dict[str, Any]], since: datetime | None, until: datetime) -> list[Any]:
    if since is None:
        return []
    by_day = {row["day"]: row for row in found}
    # `until` itself is outside the window: at midnight, its day has no part in it.
    last = (until - timedelta(microseconds=1)).astimezone(UTC).date()
    first = since.astimezone(UTC).date()
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    empty = {"runs": 0, "succeeded": 0, "failed": 0, "cancelled": 0, "timed_out": 0}
    return [
        by_day.get(day.isoformat(), {"day": day, **empty, "duration_ms_total": 0}) for day in days
    ]
