"""Statistics: one pipeline's runs over a window of days, and a summary of all the caller sees."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.params import QuerySpec, integer, uuid
from adapters.http.reads.pipelines import visible_pipeline
from adapters.http.security import Req
from projections import pipeline_stats
from projections.projection import live_schema

TAGS = ["analytics"]
SCHEMA = live_schema("pipeline_stats")
DAYS = integer("days", 1, 3660, "the window: runs requested in the last N days, default 30")
PIPELINE = QuerySpec.of(DAYS)
SUMMARY = QuerySpec.of(uuid("project_id"), DAYS)


@get(
    "/api/v1/analytics/pipelines/{pipeline_id:uuid}",
    operation_id="getPipelineAnalytics",
    tags=TAGS,
    operation_class=PIPELINE.operation(),
    responses=views.ITEM_ANSWERS,
    description="Counts by status, success rate, p50/p95 durations, per day; summed step metrics.",
)
async def pipeline_analytics(
    request: Req, pipeline_id: FromPath[UUID]
) -> Response[pipeline_stats.PipelineAnalytics]:
    query = PIPELINE.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None))
    days = query.get("days", 30)

    async def read(conn: Any) -> pipeline_stats.PipelineAnalytics | None:
        if await visible_pipeline(conn, pipeline_id, reach) is None:
            return None
        return await pipeline_stats.pipeline_analytics(conn, SCHEMA, pipeline_id, days=days)

    return await views.item(request, query, ("pipelines", "pipeline_stats"), read, "pipeline")


@get(
    "/api/v1/analytics/summary",
    operation_id="getAnalyticsSummary",
    tags=TAGS,
    operation_class=SUMMARY.operation(),
    responses=views.LIST_ANSWERS,
    description="Every run the caller may see (or one project's) in the window.",
)
async def analytics_summary(request: Req) -> Response[pipeline_stats.Summary]:
    query = SUMMARY.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, query.get("project_id")))
    days = query.get("days", 30)

    async def read(conn: Any) -> pipeline_stats.Summary:
        return await pipeline_stats.summary(conn, SCHEMA, project_ids=reach, days=days)

    return await views.item(request, query, ("pipeline_stats",), read, "summary")


ROUTES = [pipeline_analytics, analytics_summary]
