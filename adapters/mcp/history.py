"""The run history resource: every event of a run, read as the audit history route reads it."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import msgspec
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    ListResourcesResult,
    ListResourceTemplatesResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    ResourceTemplate,
    TextResourceContents,
)

from adapters.audit.envelopes import AuditEvent
from adapters.audit.reads import batches, stream_info, stream_reader
from adapters.http.audit.common import reachable, require_reader
from adapters.mcp.calls import Caller, problem_fields, problem_of

TEMPLATE = "flowledger://runs/{run_id}/history"
_URI = re.compile(r"^flowledger://runs/(?P<run_id>[^/?#]+)/history$")
JSON = "application/json"

HISTORY = ResourceTemplate(
    name="run-history",
    title="A run's event history",
    uri_template=TEMPLATE,
    description=(
        "Every event of the run in order, from the event store: a JSON array of envelopes "
        "(event_id, position, version, type, recorded_at, data, metadata, and the hash "
        "chaining it to the previous event), as GET /api/v1/pipeline-runs/{id}/history."
    ),
    mime_type=JSON,
)


async def list_templates(
    ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
) -> ListResourceTemplatesResult:
    return ListResourceTemplatesResult(resource_templates=[HISTORY])


async def list_resources(
    ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
) -> ListResourcesResult:
    # Histories are reached through the template only: listing every run would be unbounded.
    return ListResourcesResult(resources=[])


async def read_resource(
    ctx: ServerRequestContext[Any, Any], params: ReadResourceRequestParams
) -> ReadResourceResult:
    match = _URI.match(params.uri)
    if match is None:
        raise MCPError(INVALID_PARAMS, f"unknown resource {params.uri!r}; expected {TEMPLATE}")
    try:
        run_id = UUID(match["run_id"])
    except ValueError:
        raise MCPError(INVALID_PARAMS, f"{match['run_id']!r} is not a run id (a UUID)") from None
    try:
        events = await run_history(Caller.of(ctx), run_id)
    except Exception as exc:
        found = problem_of(exc)
        if found is None:
            raise
        code = INVALID_PARAMS if found.status_code in (404, 422) else INVALID_REQUEST
        raise MCPError(code, found.detail, problem_fields(found)) from None
    text = msgspec.json.encode(events).decode()
    return ReadResourceResult(
        contents=[TextResourceContents(uri=params.uri, mime_type=JSON, text=text)]
    )


async def run_history(caller: Caller, run_id: UUID) -> list[AuditEvent]:
    """The run's events as the audit history route reads them (upcast), if the caller may."""
    require_reader(caller.principal)
    pool = caller.services.store.pool
    info = reachable(caller.principal, await stream_info(pool, str(run_id)), "run", "run", run_id)
    read = stream_reader(str(run_id), info.head)
    return [event async for batch in batches(pool, read, "version", 0) for event in batch]
