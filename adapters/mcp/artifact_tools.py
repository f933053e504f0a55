"""Artifact tools: what a run stored, with each artifact's size, sha256, retention and the API
route that downloads it (the bytes themselves go over HTTP, not through a tool)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from adapters.http.reads import runs as queries
from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.run_view import RunArtifactSummary, run_artifact_summaries
from adapters.mcp.calls import Caller, raw_query
from adapters.mcp.tools import READ_ONLY, McpTool, MinPosition


class ListRunArtifacts(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    run_id: UUID
    min_position: MinPosition = None


class RunArtifactList(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    items: tuple[RunArtifactSummary, ...]
    position: int


async def list_run_artifacts(caller: Caller, args: ListRunArtifacts) -> RunArtifactList:
    query = queries.ONE.parse(raw_query(min_position=args.min_position))
    projects = project_ids(project_filter(caller.principal, None))

    async def read(conn: Any) -> tuple[RunArtifactSummary, ...] | None:
        if await queries.visible_run(conn, args.run_id, projects) is None:
            return None
        return await run_artifact_summaries(conn, args.run_id)

    position, found = await caller.read(queries.RUN_VIEWS, query, read)
    if found is None:
        raise views.not_found("run")
    return RunArtifactList(run_id=args.run_id, items=found, position=position)


TOOLS = (
    McpTool(
        name="list_run_artifacts",
        description=(
            "The artifacts a run's steps uploaded, oldest first: name, step, attempt, format "
            "(`file` or `tar`), size, sha256, retention days, expiry, deletion (when and why) "
            "and `download_url`, the API route that streams the bytes (with Range)."
        ),
        arguments=ListRunArtifacts,
        run=list_run_artifacts,
        annotations=READ_ONLY,
    ),
)
