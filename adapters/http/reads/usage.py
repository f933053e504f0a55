"""AI workflow analytics: usage (tokens, cost) per pipeline, model and day; failures by kind."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.params import MAX_LIMIT, QuerySpec, integer, uuid
from adapters.http.security import Req
from projections import usage
from projections.projection import live_schema

TAGS = ["analytics"]
SCHEMA = live_schema("runs")
DAYS = integer("days", 1, 3660, "steps finished in the last N days, default 30")
USAGE = QuerySpec.of(uuid("project_id"), uuid("pipeline_id"), DAYS)
ERRORS = QuerySpec.of(
    uuid("project_id"), uuid("pipeline_id"), DAYS, integer("limit", 1, MAX_LIMIT, "default 100")
)


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[usage.UsageRow]
    position: int


class Errors(msgspec.Struct, frozen=True, kw_only=True):
    items: list[usage.ErrorRow]
    position: int


@get(
    "/api/v1/analytics/usage",
    operation_id="getUsageAnalytics",
    tags=TAGS,
    operation_class=USAGE.operation(),
    responses=views.LIST_ANSWERS,
    description="Sums of the well-known usage keys steps report (metrics or outputs, or the "
    "runner's $FLOWLEDGER_OUTPUTS file): `ai.input_tokens`, `ai.output_tokens`, `ai.cost`, "
    "per pipeline, `ai.model` (with `ai.provider`, `ai.currency`) and day (UTC).",
)
async def usage_analytics(request: Req) -> Response[Usage]:
    query = USAGE.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, query.get("project_id")))

    async def read(conn: Any) -> list[usage.UsageRow]:
        return await usage.usage(
            conn,
            SCHEMA,
            project_ids=reach,
            pipeline_id=query.get("pipeline_id"),
            days=query.get("days", 30),
        )

    answer = await views.item(request, query, ("runs",), read, "usage")
    position = int(answer.headers[views.POSITION_HEADER])
    return Response(Usage(items=answer.content, position=position), headers=answer.headers)


@get(
    "/api/v1/analytics/errors",
    operation_id="getErrorAnalytics",
    tags=TAGS,
    operation_class=ERRORS.operation(),
    responses=views.LIST_ANSWERS,
    description="Failed and timed-out steps grouped by step, exit code and reason, most first.",
)
async def error_analytics(request: Req) -> Response[Errors]:
    query = ERRORS.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, query.get("project_id")))

    async def read(conn: Any) -> list[usage.ErrorRow]:
        return await usage.errors(
            conn,
            SCHEMA,
            project_ids=reach,
            pipeline_id=query.get("pipeline_id"),
            days=query.get("days", 30),
            limit=query.get("limit", 100),
        )

    answer = await views.item(request, query, ("runs",), read, "errors")
    position = int(answer.headers[views.POSITION_HEADER])
    return Response(Errors(items=answer.content, position=position), headers=answer.headers)


ROUTES = [usage_analytics, error_analytics]
