"""Pipelines: the list, and one pipeline's versions, a diff of two, triggers, graph and days."""

from __future__ import annotations

import difflib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get
from litestar.params import FromPath

from adapters.dashboard.chart import Day, render_chart
from adapters.dashboard.render import page
from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.consistency import read_views
from adapters.http.reads.params import QuerySpec, integer
from adapters.http.reads.pipelines import PIPELINES, pipelines_reader, visible_pipeline
from adapters.visualization.graph import step_graph
from adapters.visualization.svg import render_svg
from domain.pipeline_definition import PipelineDefinition
from projections import pipeline_queries, pipeline_stats
from projections.projection import live_schema
from projections.rows import ident

PIPELINE_SCHEMA = live_schema("pipelines")
STATS_SCHEMA = live_schema("pipeline_stats")
ONE = QuerySpec.of(integer("a", 1), integer("b", 1))
DAYS = 30
_PERCENTILES = """
SELECT (queued_at AT TIME ZONE 'UTC')::date AS day,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
  FROM {s}.stat_runs WHERE pipeline_id = $1 AND queued_at >= $2 GROUP BY 1
"""


@get("/dashboard/pipelines", include_in_schema=False)
async def pipelines_page(request: Request[Any, Any, Any]) -> Response[str]:
    query = PIPELINES.parse(request.query_params.dict())
    _, found = await read_views(
        request, query, ("pipelines",), pipelines_reader(request.user, query)
    )
    return page(request, "pipelines.html", pipelines=found.items)


@get("/dashboard/pipelines/{pipeline_id:uuid}", include_in_schema=False)
async def pipeline_page(
    request: Request[Any, Any, Any], pipeline_id: FromPath[UUID]
) -> Response[str]:
    query = ONE.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None))
    since = datetime.now(UTC) - timedelta(days=DAYS)

    async def read(conn: Any) -> Any:
        pipeline = await visible_pipeline(conn, pipeline_id, reach)
        if pipeline is None:
            return None
        versions = await pipeline_queries.pipeline_versions(conn, PIPELINE_SCHEMA, pipeline_id)
        stats = await pipeline_stats.pipeline_analytics(conn, STATS_SCHEMA, pipeline_id, days=DAYS)
        rows = await conn.fetch(_PERCENTILES.format(s=ident(STATS_SCHEMA)), pipeline_id, since)
        return pipeline, versions, stats, {r["day"]: r for r in rows}

    _, found = await read_views(request, query, ("pipelines", "pipeline_stats"), read)
    if found is None:
        raise views.not_found("pipeline")
    pipeline, versions, stats, percentiles = found
    days = [_day(d, percentiles.get(d.day)) for d in stats.daily]
    newest = versions[-1].version if versions else 1
    a, b = query.get("a", max(1, newest - 1)), query.get("b", newest)
    return page(
        request,
        "pipeline.html",
        pipeline=pipeline,
        versions=versions,
        a=a,
        b=b,
        diff=_diff(versions, a, b),
        triggers=[json.dumps(t, sort_keys=True) for t in pipeline.definition.get("triggers", [])],
        stats=stats,
        days=days,
        chart=render_chart(days),
    )


@get("/dashboard/pipelines/{pipeline_id:uuid}/graph.svg", include_in_schema=False)
async def pipeline_graph(
    request: Request[Any, Any, Any], pipeline_id: FromPath[UUID]
) -> Response[str]:
    reach = project_ids(project_filter(request.user, None))
    _, pipeline = await read_views(
        request,
        QuerySpec.of().parse({}),
        ("pipelines",),
        lambda conn: visible_pipeline(conn, pipeline_id, reach),
    )
    if pipeline is None:
        raise views.not_found("pipeline")
    definition = msgspec.convert(pipeline.definition, PipelineDefinition)
    title = f"{pipeline.name} · version {pipeline.current_version}"
    return Response(render_svg(step_graph(definition, title)), media_type="image/svg+xml")


def _day(stats: Any, percentile: Any) -> Day:
    verdicts = stats.succeeded + stats.failed + stats.timed_out
    return Day(
        day=stats.day,
        runs=stats.runs,
        success_rate=stats.succeeded / verdicts if verdicts else None,
        p50_ms=None if percentile is None or percentile["p50"] is None else percentile["p50"],
        p95_ms=None if percentile is None or percentile["p95"] is None else percentile["p95"],
    )


def _diff(versions: Any, a: int, b: int) -> list[tuple[str, str]]:
    """The unified diff of two versions' definitions, as (kind, line) for the template."""
    by_version = {v.version: v.definition for v in versions}
    if a not in by_version or b not in by_version:
        return []
    left, right = (json.dumps(by_version[v], indent=2, sort_keys=True).splitlines() for v in (a, b))
    lines = difflib.unified_diff(left, right, f"version {a}", f"version {b}", lineterm="")
    return [(_kind(line), line) for line in lines]


def _kind(line: str) -> str:
    if line.startswith(("+++", "---", "@@")):
        return "meta"
    return {"+": "added", "-": "removed"}.get(line[:1], "same")
