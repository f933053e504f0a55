"""AI workflow analytics tools: usage per pipeline, model and day; failures by kind."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from adapters.http.reads import usage as queries
from adapters.http.reads.access import project_filter, project_ids
from adapters.mcp.calls import Caller, raw_query
from adapters.mcp.tools import READ_ONLY, McpTool, MinPosition
from projections import usage

Days = Annotated[int, Meta(ge=1, le=3660, description="the last N days")]


class UsageArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID | None = None
    pipeline_id: UUID | None = None
    days: Days = 30
    min_position: MinPosition = None


async def ai_usage(caller: Caller, args: UsageArgs) -> queries.Usage:
    query = queries.USAGE.parse(raw_query(**msgspec.structs.asdict(args)))
    reach = project_ids(project_filter(caller.principal, args.project_id))
    position, rows = await caller.read(
        ("runs",),
        query,
        lambda conn: usage.usage(
            conn, queries.SCHEMA, project_ids=reach, pipeline_id=args.pipeline_id, days=args.days
        ),
    )
    return queries.Usage(items=rows, position=position)


async def step_errors(caller: Caller, args: UsageArgs) -> queries.Errors:
    query = queries.ERRORS.parse(raw_query(**msgspec.structs.asdict(args)))
    reach = project_ids(project_filter(caller.principal, args.project_id))
    position, rows = await caller.read(
        ("runs",),
        query,
        lambda conn: usage.errors(
            conn, queries.SCHEMA, project_ids=reach, pipeline_id=args.pipeline_id, days=args.days
        ),
    )
    return queries.Errors(items=rows, position=position)


TOOLS = (
    McpTool(
        name="ai_usage",
        description=(
            "AI usage of the steps you may see: input and output tokens and cost (with its "
            "currency) summed per pipeline, model (and provider) and day."
        ),
        arguments=UsageArgs,
        run=ai_usage,
        annotations=READ_ONLY,
    ),
    McpTool(
        name="step_errors",
        description="Failed steps grouped by step name, exit code and reason, most frequent first.",
        arguments=UsageArgs,
        run=step_errors,
        annotations=READ_ONLY,
    ),
)
