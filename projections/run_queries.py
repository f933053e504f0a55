"""The runs read model's queries: a page of runs, and one run with its steps."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from projections.degraded import stream_degraded, with_degraded
from projections.filters import RunFilters
from projections.paging import Page, PageQuery, PageResult, SortKey, Where, fetch_page, page_query
from projections.rows import ident
from projections.run_rows import RunDetail, RunRow
from projections.runs import RunsProjection

RUN_SORTS = {
    "created_at": SortKey("queued_at"),
    "queued_at": SortKey("queued_at"),
    "updated_at": SortKey("updated_at"),
    "started_at": SortKey("started_at", nullable=True),
    "completed_at": SortKey("finished_at", nullable=True),
    "finished_at": SortKey("finished_at", nullable=True),
    "duration_ms": SortKey("duration_ms", type=int, nullable=True),
    "status": SortKey("status", type=str),
}
"""The `order_by` names list_runs takes; default `created_at`."""
_DEGRADED_ROW = with_degraded(stream_degraded(RunsProjection.name))


def list_runs_query(schema: str, filters: RunFilters, page: Page) -> PageQuery:
    """The SQL list_runs runs (apart so a test can EXPLAIN it)."""
    f, w = filters, Where()
    w.within("r.project_id", f.project_ids)
    w.when(f.pipeline_id, "r.pipeline_id = {}")
    w.one_of("r.status", tuple(map(str, f.status)), "text")
    w.one_of("r.trigger_kind", tuple(map(str, f.trigger_kind)), "text")
    # `branch` is always `ref` less `refs/heads/` (RunBatch.request): asked as its ref, the
    # filter is served by runs_ref, and the view keeps no index for branch alone.
    w.when(f.branch and f"refs/heads/{f.branch}", "r.ref = {}")
    w.when(f.ref, "r.ref = {}")
    w.when(f.actor, "r.actor = {}")
    w.when(f.external_provider and str(f.external_provider), "r.external_provider = {}")
    for column, after, before in (
        ("queued_at", f.created_after, f.created_before),
        ("started_at", f.started_after, f.started_before),
        ("finished_at", f.completed_after, f.completed_before),
        ("updated_at", f.updated_after, f.updated_before),
    ):
        w.when(after, f"r.{column} >= {{}}")
        w.when(before, f"r.{column} < {{}}")
    return page_query(
        f"{ident(schema)}.runs r", w, page, RUN_SORTS, "created_at", row=_DEGRADED_ROW
    )


async def list_runs(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, filters: RunFilters, page: Page
) -> PageResult[RunRow]:
    return await fetch_page(conn, list_runs_query(schema, filters, page), RunRow)


async def get_run(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, run_id: UUID
) -> RunDetail | None:
    """The run with its steps in plan order, or None."""
    s = ident(schema)
    text = await conn.fetchval(
        f"SELECT ({_DEGRADED_ROW} || jsonb_build_object('steps', coalesce("
        f"(SELECT jsonb_agg(t ORDER BY t.idx) FROM {s}.steps t WHERE t.run_id = r.id),"
        f" '[]'::jsonb)))::text FROM {s}.runs r WHERE r.id = $1",
        run_id,
    )
    return None if text is None else msgspec.json.decode(text, type=RunDetail)
