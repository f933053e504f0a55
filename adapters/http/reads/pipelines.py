"""Pipelines as the views show them: filtered lists, one pipeline, and its run status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids, visible
from adapters.http.reads.params import (
    MAX_INT4,
    Query,
    QuerySpec,
    boolean,
    integer,
    many,
    page_of,
    paging,
    ranges,
    text,
    uuid,
)
from adapters.http.reads.schedules import PipelineView, with_schedules
from adapters.http.security import Req
from commands.context import Principal
from domain.pipeline import PipelineStatus
from projections import pipeline_queries
from projections.filters import PipelineFilters
from projections.paging import PageResult
from projections.pipeline_rows import PipelineRow, PipelineStatusRow
from projections.projection import live_schema

TAGS = ["pipelines"]
VIEWS = ("pipelines",)
SCHEMA = live_schema("pipelines")
RANGES = ("created", "updated")
PIPELINES = QuerySpec.of(
    uuid("project_id"),
    text("name", "the name contains this, case-insensitively"),
    many("tags", description="has all of these tags; repeat it or give a comma list"),
    boolean("is_active"),
    many("status", [s.value for s in PipelineStatus], "any of these statuses"),
    integer("version", 1, MAX_INT4, "its current definition version is this one"),
    *ranges(*RANGES),
    *paging(pipeline_queries.PIPELINE_SORTS, "created_at"),
)
ONE = QuerySpec.of()


class PipelinePage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[PipelineRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None
    """Rows matching the filters, given when `count=true` was asked."""


def pipeline_filters(query: Query, projects: tuple[UUID, ...] | None) -> PipelineFilters:
    v = query.values
    return PipelineFilters(
        project_ids=projects,
        name_contains=v.get("name"),
        tags=v.get("tags", ()),
        is_active=v.get("is_active"),
        status=tuple(PipelineStatus(s) for s in v.get("status", ())),
        version=v.get("version"),
        **query.pick(*(f"{name}_{edge}" for name in RANGES for edge in ("after", "before"))),
    )


def pipelines_reader(
    principal: Principal, query: Query
) -> Callable[[Any], Awaitable[PageResult[PipelineRow]]]:
    """The read behind a pipelines list: the query's filters within the caller's projects."""
    projects = project_ids(project_filter(principal, query.get("project_id")))
    filters, page = pipeline_filters(query, projects), page_of(query)
    return lambda conn: pipeline_queries.list_pipelines(conn, SCHEMA, filters, page)


async def visible_pipeline(
    conn: Any, pipeline_id: UUID, projects: tuple[UUID, ...] | None
) -> PipelineRow | None:
    """The pipeline if the caller may see it: other views' per-pipeline answers check it here."""
    return visible(await pipeline_queries.get_pipeline(conn, SCHEMA, pipeline_id), projects)


@get(
    "/api/v1/pipelines",
    operation_id="listPipelines",
    tags=TAGS,
    operation_class=PIPELINES.operation(),
    responses=views.LIST_ANSWERS,
)
async def list_pipelines(request: Req) -> Response[PipelinePage]:
    query = PIPELINES.parse(request.query_params.dict())
    reader = pipelines_reader(request.user, query)
    return await views.page(request, query, VIEWS, PipelinePage, reader)


@get(
    "/api/v1/pipelines/{pipeline_id:uuid}",
    operation_id="getPipeline",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_pipeline(request: Req, pipeline_id: FromPath[UUID]) -> Response[PipelineView]:
    query = ONE.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))
    answer = await views.item(
        request,
        query,
        VIEWS,
        lambda conn: visible_pipeline(conn, pipeline_id, projects),
        "pipeline",
    )
    if isinstance(answer.content, PipelineRow):
        # The value If-Match takes on PUT: one version for optimistic concurrency.
        answer.headers["ETag"] = f'"{answer.content.stream_version}"'
        answer.content = with_schedules(answer.content, datetime.now(UTC))
    return answer  # type: ignore[return-value]  # its content is now the PipelineView


@get(
    "/api/v1/pipelines/{pipeline_id:uuid}/status",
    operation_id="getPipelineStatus",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
    description="Its last run and its run counts.",
)
async def get_pipeline_status(
    request: Req, pipeline_id: FromPath[UUID]
) -> Response[PipelineStatusRow]:
    query = ONE.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))

    async def read(conn: Any) -> PipelineStatusRow | None:
        if await visible_pipeline(conn, pipeline_id, projects) is None:
            return None
        return await pipeline_queries.pipeline_status(conn, SCHEMA, pipeline_id)

    return await views.item(request, query, VIEWS, read, "pipeline")


ROUTES = [list_pipelines, get_pipeline, get_pipeline_status]
