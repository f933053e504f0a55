"""Pipeline tools: list them, describe one, trigger a run of one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from adapters.http.commanding import CommandAnswer
from adapters.http.reads import pipelines as queries
from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.schedules import PipelineView, with_schedules
from adapters.mcp.calls import Caller, raw_query
from adapters.mcp.tools import READ_ONLY, WRITES, Limit, McpTool, MinPosition
from commands.runs import TriggerRun
from domain.pipeline import PipelineStatus
from projections.pipeline_queries import PIPELINE_SORTS

PipelineSort = Literal[tuple(PIPELINE_SORTS)]  # type: ignore[valid-type]
ParamValue = str | int | float | bool


class ListPipelines(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID | None = None
    name: Annotated[str | None, Meta(description="the name contains this (any case)")] = None
    tags: Annotated[tuple[str, ...], Meta(description="has all of these tags")] = ()
    is_active: bool | None = None
    status: tuple[PipelineStatus, ...] = ()
    version: Annotated[int, Meta(ge=1, le=2**31 - 1, description="current version")] | None = None
    order_by: PipelineSort | None = None
    order: Literal["asc", "desc"] = "desc"
    limit: Limit = 20
    cursor: Annotated[str | None, Meta(description="the previous answer's next_cursor")] = None
    min_position: MinPosition = None


class DescribePipeline(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pipeline_id: UUID
    min_position: MinPosition = None


class TriggerPipelineRun(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pipeline_id: UUID
    parameters: Annotated[
        dict[str, ParamValue],
        Meta(description="by name, as the pipeline declares them (see describe_pipeline)"),
    ] = {}
    pipeline_version: Annotated[int, Meta(ge=1, description="omit for the current")] | None = None
    ref: Annotated[str | None, Meta(description="git ref, like refs/heads/main")] = None
    repo: str | None = None
    sha: str | None = None


async def list_pipelines(caller: Caller, args: ListPipelines) -> queries.PipelinePage:
    query = queries.PIPELINES.parse(raw_query(**msgspec.structs.asdict(args)))
    reader = queries.pipelines_reader(caller.principal, query)
    position, result = await caller.read(queries.VIEWS, query, reader)
    return views.page_body(queries.PipelinePage, query, position, result)


async def describe_pipeline(caller: Caller, args: DescribePipeline) -> PipelineView:
    query = queries.ONE.parse(raw_query(min_position=args.min_position))
    projects = project_ids(project_filter(caller.principal, None))
    _, found = await caller.read(
        queries.VIEWS,
        query,
        lambda conn: queries.visible_pipeline(conn, args.pipeline_id, projects),
    )
    if found is None:
        raise views.not_found("pipeline")
    return with_schedules(found, datetime.now(UTC))


async def trigger_run(caller: Caller, args: TriggerPipelineRun) -> CommandAnswer:
    return await caller.command(TriggerRun(kind="api", **msgspec.structs.asdict(args)))


TOOLS = (
    McpTool(
        name="list_pipelines",
        description=(
            "List the pipelines you may see, newest first, with filters. Each has its current "
            "definition, last run and run counts. Page on with `cursor` = `next_cursor`."
        ),
        arguments=ListPipelines,
        run=list_pipelines,
        annotations=READ_ONLY,
    ),
    McpTool(
        name="describe_pipeline",
        description=(
            "One pipeline: its steps (name, command, needs), its parameters (name, type, "
            "required, default), triggers, status, last run and run counts."
        ),
        arguments=DescribePipeline,
        run=describe_pipeline,
        annotations=READ_ONLY,
    ),
    McpTool(
        name="trigger_run",
        description=(
            "Start a run of a pipeline with parameters (needs the `write` scope). Answers the "
            "run's `id` and the event `position`: pass that as `min_position` to get_run."
        ),
        arguments=TriggerPipelineRun,
        run=trigger_run,
        annotations=WRITES,
    ),
)
