"""The pipelines read model's queries: a page of pipelines, one pipeline, its versions, status
and triggers."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from projections.degraded import owner_degraded, with_degraded
from projections.filters import PipelineFilters, like_pattern
from projections.paging import (
    Page,
    PageQuery,
    PageResult,
    SortKey,
    Where,
    fetch_page,
    get_by_id,
    page_query,
)
from projections.pipeline_rows import (
    PipelineRow,
    PipelineStatusRow,
    PipelineTriggers,
    PipelineVersionRow,
)
from projections.pipelines import PipelinesProjection
from projections.rows import ident

PIPELINE_SORTS = {
    "created_at": SortKey("created_at"),
    "updated_at": SortKey("updated_at"),
    "name": SortKey("name", str),
    "last_run_at": SortKey("last_run_at", nullable=True),
}
"""The `order_by` names list_pipelines takes; default `created_at`."""


def list_pipelines_query(schema: str, filters: PipelineFilters, page: Page) -> PageQuery:
    f, w = filters, Where()
    w.within("r.project_id", f.project_ids)
    w.when(f.name_contains and like_pattern(f.name_contains), "r.name ILIKE {} ESCAPE '\\'")
    w.when(f.tags and list(f.tags), "r.tags @> {}::text[]")
    if f.is_active is not None:
        w.add("r.active = {}", f.is_active)
    w.one_of("r.status", tuple(map(str, f.status)), "text")
    if f.version is not None:
        w.add("r.current_version = {}", f.version)
    for column, after, before in (
        ("created_at", f.created_after, f.created_before),
        ("updated_at", f.updated_after, f.updated_before),
    ):
        w.when(after, f"r.{column} >= {{}}")
        w.when(before, f"r.{column} < {{}}")
    return page_query(
        f"{ident(schema)}.pipelines r",
        w,
        page,
        PIPELINE_SORTS,
        "created_at",
        row=_degraded_row(schema),
    )


async def list_pipelines(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, filters: PipelineFilters, page: Page
) -> PageResult[PipelineRow]:
    return await fetch_page(conn, list_pipelines_query(schema, filters, page), PipelineRow)


async def get_pipeline(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, pipeline_id: UUID
) -> PipelineRow | None:
    return await get_by_id(
        conn, schema, "pipelines", pipeline_id, PipelineRow, row=_degraded_row(schema)
    )


def _degraded_row(schema: str) -> str:
    flag = owner_degraded(PipelinesProjection.name, f"{ident(schema)}.runs", "pipeline_id")
    return with_degraded(flag)


async def pipeline_versions(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, pipeline_id: UUID
) -> tuple[PipelineVersionRow, ...]:
    """Every version of the pipeline, oldest first (none for an unknown pipeline)."""
    text = await conn.fetchval(
        f"SELECT coalesce(jsonb_agg(v ORDER BY v.version), '[]')::text "
        f"FROM {ident(schema)}.versions v WHERE v.pipeline_id = $1",
        pipeline_id,
    )
    return msgspec.json.decode(text, type=tuple[PipelineVersionRow, ...])


async def pipeline_version(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, pipeline_id: UUID, version: int
) -> PipelineVersionRow | None:
    """One version of the pipeline, or None if it has no such version."""
    text = await conn.fetchval(
        f"SELECT to_jsonb(v)::text FROM {ident(schema)}.versions v"
        f" WHERE v.pipeline_id = $1 AND v.version = $2",
        pipeline_id,
        version,
    )
    return None if text is None else msgspec.json.decode(text, type=PipelineVersionRow)


async def pipeline_status(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, pipeline_id: UUID
) -> PipelineStatusRow | None:
    text = await conn.fetchval(
        f"SELECT (to_jsonb(r) || jsonb_build_object('runs_active', r.runs_total - r.runs_succeeded"
        f" - r.runs_failed - r.runs_cancelled - r.runs_timed_out))::text "
        f"FROM {ident(schema)}.pipelines r WHERE r.id = $1",
        pipeline_id,
    )
    return None if text is None else msgspec.json.decode(text, type=PipelineStatusRow)


async def pipeline_triggers(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, project_id: UUID
) -> tuple[PipelineTriggers, ...]:
    """The project's pipelines with their triggers, oldest first, active or not."""
    return decode_triggers(await conn.fetchval(triggers_query(schema), project_id))


def triggers_query(schema: str) -> str:
    """The statement `pipeline_triggers` runs (its project is `$1`), for a caller that asks it
    within a statement of its own (`adapters/webhooks/candidates.py`)."""
    return (
        "SELECT coalesce(jsonb_agg(jsonb_build_object('pipeline_id', p.id, 'name', p.name,"
        " 'active', p.active, 'triggers', coalesce(p.definition->'triggers', '[]'),"
        " 'reads_file', coalesce(p.definition->'repository_file', 'null') <> 'null')"
        f" ORDER BY p.created_at, p.id), '[]')::text FROM {ident(schema)}.pipelines p"
        " WHERE p.project_id = $1"
    )


def decode_triggers(text: str) -> tuple[PipelineTriggers, ...]:
    return msgspec.json.decode(text, type=tuple[PipelineTriggers, ...])
