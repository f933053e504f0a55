"""Runs as the views show them: filtered lists, one run with its steps, its status, its logs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids, visible
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import (
    DEFAULT_LIMIT,
    MAX_INT4,
    MAX_LIMIT,
    Query,
    QuerySpec,
    choice,
    integer,
    many,
    page_of,
    paging,
    ranges,
    text,
    uuid,
)
from adapters.http.reads.pipelines import visible_pipeline
from adapters.http.reads.run_view import RunView, with_artifacts
from adapters.http.security import Req
from commands.context import Principal
from domain.run_statuses import Provider, RunStatus, StepStatus, TriggerKind
from projections import logs, run_queries, run_rows
from projections.filters import RunFilters
from projections.paging import PageResult
from projections.projection import live_schema

TAGS = ["runs"]
VIEWS = ("runs",)
PIPELINE_VIEWS = ("runs", "pipelines")
RUN_VIEWS = ("runs", "artifacts")
"""A run's artifacts list reads both; the run itself waits for the runs view only (its
`artifacts` are what the artifacts view has, if it is built)."""
SCHEMA = live_schema("runs")
RANGES = ("created", "started", "completed", "updated")
RUN_FILTERS = [
    uuid("project_id"),
    many("status", [s.value for s in RunStatus], "any of these statuses"),
    many("trigger", [k.value for k in TriggerKind], "any of these trigger kinds"),
    text("branch", "the branch of a refs/heads/<branch> ref"),
    text("ref"),
    text("actor", "who triggered it"),
    choice("provider", [p.value for p in Provider], "external runs mirrored from this provider"),
    *ranges(*RANGES),
    *paging(run_queries.RUN_SORTS, "created_at"),
]
RUNS = QuerySpec.of(uuid("pipeline_id"), RUN_FILTERS)
PIPELINE_RUNS = QuerySpec.of(RUN_FILTERS)
ONE = QuerySpec.of()
LOGS = QuerySpec.of(
    text("step", f"one step's channel ({logs.RUN_CHANNEL!r}: the run's own); else every channel"),
    integer("after_seq", 0, MAX_INT4, description="with step: only chunks after this seq"),
    integer("after_position", 0, description="only chunks after this event position"),
    integer("tail", 1, MAX_LIMIT, "only the last N chunks that match"),
    text("q", "only chunks containing this text, case-insensitively"),
    integer("limit", 1, MAX_LIMIT, f"at most this many chunks, default {DEFAULT_LIMIT}"),
)
LOG_SCHEMA = live_schema("logs")
LOG_VIEWS = (*VIEWS, "logs")


class RunPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[run_rows.RunRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None
    """Rows matching the filters, given when `count=true` was asked."""


class RunLogs(msgspec.Struct, frozen=True, kw_only=True):
    items: list[logs.LogChunkRow]
    more: bool
    """More chunks match after the last one: ask again with its seq (or position)."""
    truncation: logs.LogTruncation | None
    limit: int
    position: int
    degraded: bool = False
    """Events of the run wait in the logs view's quarantine: chunks may be missing."""


class StepState(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    status: StepStatus
    attempt: int


class RunState(msgspec.Struct, frozen=True, kw_only=True):
    """A run's status at a glance, for pollers."""

    id: UUID
    status: RunStatus
    finished: bool
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    failure_reason: str | None
    steps: list[StepState]


def run_filters(query: Query, projects: tuple[UUID, ...] | None, **fixed: Any) -> RunFilters:
    """The query string's filters as the read model's typed ones, within the caller's projects."""
    v = query.values
    fields: dict[str, Any] = {
        "project_ids": projects,
        "pipeline_id": v.get("pipeline_id"),
        "status": tuple(RunStatus(s) for s in v.get("status", ())),
        "trigger_kind": tuple(TriggerKind(k) for k in v.get("trigger", ())),
        "branch": v.get("branch"),
        "ref": v.get("ref"),
        "actor": v.get("actor"),
        "external_provider": Provider(v["provider"]) if "provider" in v else None,
        **query.pick(*(f"{name}_{edge}" for name in RANGES for edge in ("after", "before"))),
    }
    return RunFilters(**{**fields, **fixed})


def runs_reader(
    principal: Principal, query: Query, **fixed: Any
) -> Callable[[Any], Awaitable[PageResult[run_rows.RunRow]]]:
    """The read behind a runs list: the query's filters within the caller's projects."""
    projects = project_ids(project_filter(principal, query.get("project_id")))
    filters = run_filters(query, projects, **fixed)
    page = page_of(query)
    return lambda conn: run_queries.list_runs(conn, SCHEMA, filters, page)


async def visible_run(
    conn: Any, run_id: UUID, projects: tuple[UUID, ...] | None
) -> run_rows.RunDetail | None:
    """The run with its steps if the caller may see it; None answers 404."""
    return visible(await run_queries.get_run(conn, SCHEMA, run_id), projects)


async def visible_logs(
    conn: Any, run_id: UUID, projects: tuple[UUID, ...] | None, query: Query
) -> logs.LogPage | None:
    """The run's log chunks the query asks for, if the caller may see the run."""
    if await visible_run(conn, run_id, projects) is None:
        return None
    options = query.pick("step", "after_seq", "after_position", "tail", "q")
    return await logs.run_logs(conn, LOG_SCHEMA, run_id, limit=query.limit, **options)


def logs_body(found: logs.LogPage, query: Query, position: int) -> RunLogs:
    return RunLogs(
        items=list(found.items),
        more=found.more,
        truncation=found.truncation,
        limit=query.limit,
        position=position,
        degraded=found.degraded,
    )


@get(
    "/api/v1/pipeline-runs",
    operation_id="listRuns",
    tags=TAGS,
    operation_class=RUNS.operation(),
    responses=views.LIST_ANSWERS,
)
async def list_runs(request: Req) -> Response[RunPage]:
    return await _list(request, RUNS.parse(request.query_params.dict()))


@get(
    "/api/v1/pipelines/{pipeline_id:uuid}/runs",
    operation_id="listPipelineRuns",
    tags=TAGS,
    operation_class=PIPELINE_RUNS.operation(),
    responses=views.LIST_ANSWERS,
)
async def list_pipeline_runs(request: Req, pipeline_id: FromPath[UUID]) -> Response[RunPage]:
    query = PIPELINE_RUNS.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, query.get("project_id")))
    list_page = runs_reader(request.user, query, pipeline_id=pipeline_id)

    async def read(conn: Any) -> PageResult[run_rows.RunRow]:
        # An empty page would tell that the pipeline exists (or hide that it does not):
        # another project's pipeline and an unknown one are both a 404, as for one pipeline.
        if await visible_pipeline(conn, pipeline_id, projects) is None:
            raise views.not_found("pipeline")
        return await list_page(conn)

    return await views.page(request, query, PIPELINE_VIEWS, RunPage, read)


@get(
    "/api/v1/pipeline-runs/{run_id:uuid}",
    operation_id="getRun",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
    description="The run, its steps in plan order, and the artifacts it stored (name, step, "
    "size, sha256, retention, and the route that downloads each).",
)
async def get_run(request: Req, run_id: FromPath[UUID]) -> Response[RunView]:
    query = ONE.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))

    async def read(conn: Any) -> RunView | None:
        return await with_artifacts(conn, await visible_run(conn, run_id, projects))

    return await views.item(request, query, VIEWS, read, "run")


@get(
    "/api/v1/pipeline-runs/{run_id:uuid}/status",
    operation_id="getRunStatus",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_run_status(request: Req, run_id: FromPath[UUID]) -> Response[RunState]:
    query = ONE.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))

    async def read(conn: Any) -> RunState | None:
        run = await visible_run(conn, run_id, projects)
        return None if run is None else _state(run)

    return await views.item(request, query, VIEWS, read, "run")


@get(
    "/api/v1/pipeline-runs/{run_id:uuid}/logs",
    operation_id="getRunLogs",
    tags=TAGS,
    operation_class=LOGS.operation(),
    responses=views.ITEM_ANSWERS,
    description="One channel by seq (with `step`), or every channel by position.",
)
async def get_run_logs(request: Req, run_id: FromPath[UUID]) -> Response[RunLogs]:
    query = LOGS.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))
    position, found = await read_views(
        request, query, LOG_VIEWS, lambda conn: visible_logs(conn, run_id, projects, query)
    )
    if found is None:
        raise views.not_found("run")
    return Response(logs_body(found, query, position), headers={POSITION_HEADER: str(position)})


ROUTES = [list_runs, list_pipeline_runs, get_run, get_run_status, get_run_logs]


async def _list(request: Req, query: Query, **fixed: Any) -> Response[RunPage]:
    reader = runs_reader(request.user, query, **fixed)
    return await views.page(request, query, VIEWS, RunPage, reader)


def _state(run: run_rows.RunDetail) -> RunState:
    return RunState(
        id=run.id,
        status=run.status,
        finished=run.status.finished,
        queued_at=run.queued_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        failure_reason=run.failure_reason,
        steps=[StepState(name=s.name, status=s.status, attempt=s.attempt) for s in run.steps],
    )
