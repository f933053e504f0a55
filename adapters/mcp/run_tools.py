"""Run tools: one run with its steps, its logs, cancelling it, and the recent failures."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

from adapters.http.commanding import CommandAnswer
from adapters.http.reads import runs as queries
from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.run_view import RunView, with_artifacts
from adapters.mcp.calls import Caller, raw_query
from adapters.mcp.tools import READ_ONLY, STOPS, Limit, McpTool, MinPosition
from commands.runs import CancelRun
from domain.run_statuses import RunStatus

FAILED = (RunStatus.FAILED, RunStatus.TIMED_OUT)


class GetRun(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    run_id: UUID
    min_position: MinPosition = None


class ReadRunLogs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    run_id: UUID
    step: Annotated[
        str | None, Meta(description="one step's log; omit for every channel in order")
    ] = None
    tail: Annotated[int, Meta(ge=1, le=1000, description="only the last N chunks")] | None = None
    search: Annotated[
        str | None, Meta(description="only chunks containing this text (any case)")
    ] = None
    after_seq: Annotated[int, Meta(ge=0, description="with step: chunks after it")] | None = None
    after_position: Annotated[int, Meta(ge=0, description="chunks after it")] | None = None
    limit: Limit = 100
    min_position: MinPosition = None


class CancelRunArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    run_id: UUID
    reason: Annotated[str, Meta(max_length=500)] = ""


class RecentFailures(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID | None = None
    pipeline_id: UUID | None = None
    since: (
        Annotated[datetime, Meta(tz=True, description="finished at or after (ISO 8601, with zone)")]
        | None
    ) = None
    limit: Limit = 20
    cursor: Annotated[str | None, Meta(description="the previous answer's next_cursor")] = None
    min_position: MinPosition = None


async def get_run(caller: Caller, args: GetRun) -> RunView:
    query = queries.ONE.parse(raw_query(min_position=args.min_position))
    projects = project_ids(project_filter(caller.principal, None))

    async def read(conn: Any) -> RunView | None:
        return await with_artifacts(conn, await queries.visible_run(conn, args.run_id, projects))

    _, found = await caller.read(queries.VIEWS, query, read)
    if found is None:
        raise views.not_found("run")
    return found


async def read_run_logs(caller: Caller, args: ReadRunLogs) -> queries.RunLogs:
    fields = msgspec.structs.asdict(args)
    del fields["run_id"]
    fields["q"] = fields.pop("search")
    query = queries.LOGS.parse(raw_query(**fields))
    projects = project_ids(project_filter(caller.principal, None))
    position, found = await caller.read(
        queries.LOG_VIEWS,
        query,
        lambda conn: queries.visible_logs(conn, args.run_id, projects, query),
    )
    if found is None:
        raise views.not_found("run")
    return queries.logs_body(found, query, position)


async def cancel_run(caller: Caller, args: CancelRunArgs) -> CommandAnswer:
    return await caller.command(CancelRun(run_id=args.run_id, reason=args.reason))


async def list_recent_failures(caller: Caller, args: RecentFailures) -> queries.RunPage:
    fields = msgspec.structs.asdict(args)
    since = fields.pop("since")
    query = queries.RUNS.parse(
        raw_query(
            **fields,
            status=FAILED,
            completed_after=since.isoformat() if since else None,
            order_by="completed_at",
            order="desc",
        )
    )
    position, result = await caller.read(
        queries.VIEWS, query, queries.runs_reader(caller.principal, query)
    )
    return views.page_body(queries.RunPage, query, position, result)


TOOLS = (
    McpTool(
        name="get_run",
        description=(
            "One run with its steps: status, parameters, trigger, timings, failure reason and "
            "failed step, each step's status, attempt, exit code and duration, and the "
            "artifacts it stored (as list_run_artifacts)."
        ),
        arguments=GetRun,
        run=get_run,
        annotations=READ_ONLY,
    ),
    McpTool(
        name="read_run_logs",
        description=(
            "A run's log chunks in order: `tail` for the last N, `search` for a substring, "
            "`step` for one step. `more` says more chunks follow: ask again with "
            "`after_position` (or `after_seq` with `step`) of the last one."
        ),
        arguments=ReadRunLogs,
        run=read_run_logs,
        annotations=READ_ONLY,
    ),
    McpTool(
        name="cancel_run",
        description=(
            "Ask a queued or running run to stop (needs the `write` scope). A finished run "
            "cannot be cancelled: the error says its status."
        ),
        arguments=CancelRunArgs,
        run=cancel_run,
        annotations=STOPS,
    ),
    McpTool(
        name="list_recent_failures",
        description=(
            "Failed and timed-out runs, most recently finished first, with the failure reason "
            "and failed step; optionally of one project or pipeline, or since a moment."
        ),
        arguments=RecentFailures,
        run=list_recent_failures,
        annotations=READ_ONLY,
    ),
)
