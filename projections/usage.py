"""AI usage and failures, read from the runs view's steps: well-known keys a step reports.

A step reports usage in its status report's `metrics` (numbers) and `outputs` (text), or as
`key=value` lines in its runner's $FLOWLEDGER_OUTPUTS file (outputs): `ai.input_tokens`,
`ai.output_tokens`, `ai.cost` (numbers), `ai.currency`, `ai.model`, `ai.provider` (text). A
number given as an output counts as well. The view keeps each step's last attempt.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg
import msgspec

from projections.paging import Where
from projections.rows import ident

_NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"


def _number(key: str) -> str:
    value = f"coalesce(s.metrics->>'{key}', s.outputs->>'{key}')"
    return f"CASE WHEN {value} ~ '{_NUMBER}' THEN ({value})::numeric ELSE 0 END"


def _text(key: str) -> str:
    return f"coalesce(s.outputs->>'{key}', '')"


class UsageRow(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    day: date
    model: str
    provider: str
    currency: str
    steps: int
    input_tokens: float
    output_tokens: float
    cost: float


class ErrorRow(msgspec.Struct, frozen=True, kw_only=True):
    step: str
    exit_code: int | None
    reason: str
    failures: int
    runs: int
    pipelines: int
    last_failed_at: str


def _where(project_ids: tuple[UUID, ...] | None, pipeline_id: UUID | None, days: int) -> Where:
    w = Where()
    w.within("r.project_id", project_ids)
    w.when(pipeline_id, "r.pipeline_id = {}")
    w.add("s.finished_at >= now() - make_interval(days => {})", days)
    return w


async def usage(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    pipeline_id: UUID | None = None,
    days: int = 30,
) -> list[UsageRow]:
    """Sums per pipeline, model (with its provider and currency) and day, newest day first."""
    w = _where(project_ids, pipeline_id, days)
    w.conditions.append(
        "(s.metrics ?| array['ai.input_tokens','ai.output_tokens','ai.cost'] OR s.outputs ?| "
        "array['ai.input_tokens','ai.output_tokens','ai.cost','ai.model'])"
    )
    s = ident(schema)
    rows = await conn.fetch(
        f"SELECT r.pipeline_id, (s.finished_at AT TIME ZONE 'UTC')::date AS day,"
        f" {_text('ai.model')} AS model, {_text('ai.provider')} AS provider,"
        f" {_text('ai.currency')} AS currency, count(*) AS steps,"
        f" sum({_number('ai.input_tokens')})::float8 AS input_tokens,"
        f" sum({_number('ai.output_tokens')})::float8 AS output_tokens,"
        f" sum({_number('ai.cost')})::float8 AS cost"
        f" FROM {s}.steps s JOIN {s}.runs r ON r.id = s.run_id{w.sql()}"
        f" GROUP BY 1, 2, 3, 4, 5 ORDER BY day DESC, pipeline_id, model, provider, currency",
        *w.args,
    )
    return [UsageRow(**dict(row)) for row in rows]


async def errors(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    pipeline_id: UUID | None = None,
    days: int = 30,
    limit: int = 100,
) -> list[ErrorRow]:
    """Failed and timed-out steps grouped by step name, exit code and reason, most first."""
    w = _where(project_ids, pipeline_id, days)
    w.conditions.append("s.status IN ('failed', 'timed_out')")
    s = ident(schema)
    rows = await conn.fetch(
        f"SELECT s.name AS step, s.exit_code, coalesce(s.reason, '') AS reason,"
        f" count(*) AS failures, count(DISTINCT s.run_id) AS runs,"
        f" count(DISTINCT r.pipeline_id) AS pipelines, max(s.finished_at)::text AS last_failed_at"
        f" FROM {s}.steps s JOIN {s}.runs r ON r.id = s.run_id{w.sql()}"
        f" GROUP BY 1, 2, 3 ORDER BY failures DESC, last_failed_at DESC LIMIT {int(limit)}",
        *w.args,
    )
    return [ErrorRow(**dict(row)) for row in rows]
