"""A pipeline's step graph over HTTP: JSON (nodes, edges, layers, Mermaid) or an SVG image."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.problems import problem
from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids, visible
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import MAX_INT4, QuerySpec, integer, invalid, uuid
from adapters.http.reads.pipelines import visible_pipeline
from adapters.http.security import Req
from adapters.visualization.graph import StepEdge, StepGraph, StepNode, step_graph
from adapters.visualization.layout import layered
from adapters.visualization.mermaid import mermaid
from adapters.visualization.svg import render_svg
from domain.errors import UnknownPipelineVersion
from domain.pipeline_definition import PipelineDefinition
from domain.run_statuses import RunStatus
from projections import pipeline_queries, run_queries
from projections.pipeline_rows import PipelineRow
from projections.projection import live_schema
from projections.run_rows import RunDetail

TAGS = ["pipelines"]
PIPELINE_SCHEMA = live_schema("pipelines")
RUN_SCHEMA = live_schema("runs")
GRAPH = QuerySpec.of(
    uuid("run", "lay this run's step states over the version it pinned"),
    integer(
        "version",
        1,
        MAX_INT4,
        description="this version of the definition; default the current one",
    ),
)
SVG = "image/svg+xml"


class GraphNode(StepNode, frozen=True, kw_only=True):
    layer: int
    """Its rank: the longest chain of needs from a step that needs nothing."""
    order: int
    """Its place within its layer, top to bottom, ordered to cross few edges."""


class RunOverlay(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    status: RunStatus
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    failed_step: str | None


class PipelineGraph(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    name: str
    version: int
    run: RunOverlay | None
    nodes: list[GraphNode]
    edges: list[StepEdge]
    layers: list[list[str]]
    """Step names by layer, each layer in drawing order."""
    mermaid: str
    """`flowchart LR` text; with a run, a classDef per step status."""
    position: int


class _Found(NamedTuple):
    pipeline: PipelineRow
    version: int
    definition: PipelineDefinition
    run: RunDetail | None


@get(
    "/api/v1/pipelines/{pipeline_id:uuid}/visualization",
    operation_id="getPipelineVisualization",
    tags=TAGS,
    operation_class=GRAPH.operation(),
    responses=views.ITEM_ANSWERS,
    description="The step DAG: nodes, edges, layers for a layout, and Mermaid text.",
)
async def get_visualization(request: Req, pipeline_id: FromPath[UUID]) -> Response[PipelineGraph]:
    position, found = await _read(request, pipeline_id)
    graph = _graph(found)
    layers = layered([n.name for n in graph.nodes], [(e.source, e.target) for e in graph.edges])
    where = {name: (rank, i) for rank, layer in enumerate(layers) for i, name in enumerate(layer)}
    body = PipelineGraph(
        pipeline_id=found.pipeline.id,
        name=found.definition.name,
        version=found.version,
        run=None if found.run is None else _overlay(found.run),
        nodes=[
            GraphNode(
                **msgspec.structs.asdict(node), layer=where[node.name][0], order=where[node.name][1]
            )
            for node in graph.nodes
        ],
        edges=list(graph.edges),
        layers=[list(layer) for layer in layers],
        mermaid=mermaid(graph),
        position=position,
    )
    return Response(body, headers={POSITION_HEADER: str(position)})


@get(
    "/api/v1/pipelines/{pipeline_id:uuid}/visualization.svg",
    operation_id="getPipelineVisualizationSvg",
    tags=TAGS,
    operation_class=GRAPH.operation(),
    media_type=SVG,
    responses=views.ITEM_ANSWERS,
    description="The step DAG drawn left to right, coloured by the run's step states.",
)
async def get_visualization_svg(request: Req, pipeline_id: FromPath[UUID]) -> Response[str]:
    position, found = await _read(request, pipeline_id)
    return Response(
        render_svg(_graph(found)), media_type=SVG, headers={POSITION_HEADER: str(position)}
    )


ROUTES = [get_visualization, get_visualization_svg]


async def _read(request: Req, pipeline_id: UUID) -> tuple[int, _Found]:
    query = GRAPH.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))
    run_id, asked = query.get("run"), query.get("version")

    async def read(conn: Any) -> _Found:
        pipeline = await visible_pipeline(conn, pipeline_id, projects)
        if pipeline is None:
            raise views.not_found("pipeline")
        run = None
        version = pipeline.current_version if asked is None else asked
        if run_id is not None:
            run = visible(await run_queries.get_run(conn, RUN_SCHEMA, run_id), projects)
            if run is None:
                raise views.not_found("run")
            if run.pipeline_id != pipeline.id:
                raise problem(
                    422,
                    "run_of_another_pipeline",
                    "the run belongs to another pipeline",
                    f"run {run.id} is a run of pipeline {run.pipeline_id}",
                    parameter="run",
                )
            if asked is not None and asked != run.pipeline_version:
                raise invalid(
                    "version", f"the run pinned version {run.pipeline_version}; leave version out"
                )
            version = run.pipeline_version
        if version == pipeline.current_version:
            definition = pipeline.definition
        else:
            row = await pipeline_queries.pipeline_version(
                conn, PIPELINE_SCHEMA, pipeline.id, version
            )
            if row is None:
                raise UnknownPipelineVersion(pipeline.id, version)
            definition = row.definition
        return _Found(pipeline, version, msgspec.convert(definition, PipelineDefinition), run)

    names = ("pipelines", "runs") if run_id is not None else ("pipelines",)
    return await read_views(request, query, names, read)


def _graph(found: _Found) -> StepGraph:
    title = f"{found.definition.name} · version {found.version}"
    if found.run is None:
        return step_graph(found.definition, title)
    title += f" · run {str(found.run.id)[:8]} {found.run.status}"
    return step_graph(found.definition, title, found.run.steps)


def _overlay(run: RunDetail) -> RunOverlay:
    return RunOverlay(
        id=run.id,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        failed_step=run.failed_step,
    )
