"""A run's page: status, step graph, steps with attempts and timings, artifacts, logs; cancel
and retry."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath

from adapters.dashboard.ansi import to_html
from adapters.dashboard.render import page
from adapters.dashboard.run_artifacts import artifacts_for_page
from adapters.http.commanding import execute
from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.consistency import read_views
from adapters.http.reads.params import QuerySpec, integer
from adapters.http.reads.pipelines import visible_pipeline
from adapters.http.reads.runs import LOG_SCHEMA, LOG_VIEWS, VIEWS, visible_run
from adapters.visualization.graph import step_graph
from adapters.visualization.svg import render_svg
from commands.approvals import DecideApproval
from commands.runs import CancelRun, RetryRun
from domain.pipeline_definition import PipelineDefinition
from domain.run_statuses import StepStatus
from projections import logs, pipeline_queries
from projections.projection import live_schema
from projections.run_rows import RunDetail

PIPELINE_SCHEMA = live_schema("pipelines")
ONE = QuerySpec.of()
LOG_QUERY = QuerySpec.of(integer("after_position", 0))
LOG_PAGE = 500


def _projects(request: Request[Any, Any, Any]) -> tuple[UUID, ...] | None:
    return project_ids(project_filter(request.user, None))


async def _run(request: Request[Any, Any, Any], run_id: UUID) -> tuple[int, RunDetail]:
    projects = _projects(request)
    position, run = await read_views(
        request, ONE.parse({}), VIEWS, lambda conn: visible_run(conn, run_id, projects)
    )
    if run is None:  # another project's run is as absent as a run that never was
        raise views.not_found("run")
    return position, run


def _lines(chunks: Any) -> list[dict[str, Any]]:
    return [
        {
            "position": c.position,
            "step": c.step or "run",
            "stream": c.stream,
            "html": to_html(c.text.removesuffix("\n")),
        }
        for c in chunks
    ]


@get("/dashboard/runs/{run_id:uuid}", include_in_schema=False)
async def run_page(request: Request[Any, Any, Any], run_id: FromPath[UUID]) -> Response[str]:
    position, run = await _run(request, run_id)
    _, found = await read_views(
        request,
        ONE.parse({}),
        LOG_VIEWS,
        lambda conn: logs.run_logs(conn, LOG_SCHEMA, run.id, tail=LOG_PAGE, limit=LOG_PAGE),
    )
    lines = _lines(found.items)
    may_write = request.user.allows("write", run.project_id)
    may_approve = request.user.allows("approve", run.project_id)
    waiting = [s.name for s in run.steps if s.status is StepStatus.WAITING_FOR_APPROVAL]
    return page(
        request,
        "run.html",
        run=run,
        position=position,
        lines=lines,
        last_log=lines[-1]["position"] if lines else 0,
        may_write=may_write,
        waiting=waiting if may_approve else [],
        watch=f"/ws/runs/{run.id}",
        artifacts=await artifacts_for_page(request, run.id),
    )


@get("/dashboard/runs/{run_id:uuid}/live", include_in_schema=False)
async def run_live(request: Request[Any, Any, Any], run_id: FromPath[UUID]) -> Response[str]:
    position, run = await _run(request, run_id)
    artifacts = await artifacts_for_page(request, run.id)
    return page(request, "run_live.html", run=run, position=position, artifacts=artifacts)


@get("/dashboard/runs/{run_id:uuid}/logs", include_in_schema=False)
async def run_log_lines(request: Request[Any, Any, Any], run_id: FromPath[UUID]) -> Response[str]:
    """The log lines after a position: how the page follows them and resumes without a gap."""
    query = LOG_QUERY.parse(request.query_params.dict())
    await _run(request, run_id)
    after = query.get("after_position", 0)
    _, found = await read_views(
        request,
        query,
        LOG_VIEWS,
        lambda conn: logs.run_logs(conn, LOG_SCHEMA, run_id, after_position=after, limit=LOG_PAGE),
    )
    return page(request, "log_lines.html", lines=_lines(found.items))


@get("/dashboard/runs/{run_id:uuid}/graph.svg", include_in_schema=False)
async def run_graph(request: Request[Any, Any, Any], run_id: FromPath[UUID]) -> Response[str]:
    """The pipeline's step graph at the run's version, coloured by the run's step states."""
    _, run = await _run(request, run_id)
    projects = _projects(request)

    async def read(conn: Any) -> Any:
        pipeline = await visible_pipeline(conn, run.pipeline_id, projects)
        if pipeline is None:
            raise views.not_found("pipeline")
        if run.pipeline_version == pipeline.current_version:
            return pipeline.definition
        row = await pipeline_queries.pipeline_version(
            conn, PIPELINE_SCHEMA, pipeline.id, run.pipeline_version
        )
        return None if row is None else row.definition

    _, definition = await read_views(request, ONE.parse({}), ("pipelines",), read)
    if definition is None:
        raise views.not_found("pipeline version")
    graph = step_graph(
        msgspec.convert(definition, PipelineDefinition),
        f"run {str(run.id)[:8]} {run.status}",
        run.steps,
    )
    return Response(
        render_svg(graph),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},
    )


@post("/dashboard/runs/{run_id:uuid}/cancel", include_in_schema=False)
async def cancel(request: Request[Any, Any, Any], run_id: FromPath[UUID]) -> Response[bytes]:
    await _run(request, run_id)
    return await execute(request, CancelRun(run_id=run_id, reason="cancelled from the dashboard"))


@post("/dashboard/runs/{run_id:uuid}/approvals/{step:str}/{decision:str}", include_in_schema=False)
async def decide(
    request: Request[Any, Any, Any],
    run_id: FromPath[UUID],
    step: FromPath[str],
    decision: FromPath[str],
) -> Response[bytes]:
    """A decision without inputs (a step whose inputs are required is decided over the API)."""
    await _run(request, run_id)
    if decision not in ("approve", "reject"):
        raise views.not_found("decision")
    command = DecideApproval(
        run_id=run_id, step=step, decision=decision, comment="decided from the dashboard"
    )
    return await execute(request, command)


@post("/dashboard/runs/{run_id:uuid}/retry", include_in_schema=False)
async def retry(request: Request[Any, Any, Any], run_id: FromPath[UUID]) -> Response[bytes]:
    await _run(request, run_id)
    return await execute(request, RetryRun(run_id=run_id), status=201)
