"""Runners (`read`): the fleet as the runners view shows it, a list and single runners."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.params import QuerySpec, choice, page_of, paging, text
from adapters.http.security import Req
from projections import runners
from projections.projection import live_schema

SCHEMA = live_schema("runners")
VIEWS = ("runners",)

ONE = QuerySpec.of()
RUNNERS = QuerySpec.of(
    choice("state", runners.STATES),
    text("label", "only runners with this label"),
    *paging(runners.RUNNER_SORTS, "registered_at"),
)


class RunnerPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[runners.RunnerRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None
    """Rows matching the filters, given when `count=true` was asked."""


@get(
    "/api/v1/runners",
    operation_id="listRunners",
    tags=["runners"],
    operation_class=RUNNERS.operation(),
    responses=views.LIST_ANSWERS,
    description="Runners, their labels, state (idle, busy, lost, offline), current jobs and "
    "last heartbeat. A project-bound caller sees its project's runners and the shared ones.",
)
async def list_runners(request: Req) -> Response[RunnerPage]:
    query = RUNNERS.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None))
    page = page_of(query)
    schema = SCHEMA
    return await views.page(
        request,
        query,
        VIEWS,
        RunnerPage,
        lambda conn: runners.list_runners(
            conn,
            schema,
            project_ids=reach,
            state=query.get("state"),
            label=query.get("label"),
            page=page,
        ),
    )


@get(
    "/api/v1/runners/{runner_id:uuid}",
    operation_id="getRunner",
    tags=["runners"],
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_runner(request: Req, runner_id: FromPath[UUID]) -> Response[runners.RunnerRow]:
    query = ONE.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None))

    async def read(conn: Any) -> runners.RunnerRow | None:
        return await runners.get_runner(conn, SCHEMA, runner_id, project_ids=reach)

    return await views.item(request, query, VIEWS, read, "runner")


ROUTES = [list_runners, get_runner]
