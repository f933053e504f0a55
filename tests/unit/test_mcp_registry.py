"""The MCP tool registry without a database: schemas, argument spelling, unauthenticated calls."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from mcp import Client

from adapters.mcp.calls import raw_query
from adapters.mcp.endpoint import mcp_server
from adapters.mcp.tools import input_schema
from domain.run_statuses import RunStatus


class Nested(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    status: tuple[RunStatus, ...] = ()
    limit: Annotated[int, msgspec.Meta(ge=1)] = 20


def test_an_input_schema_is_an_object_at_the_top_with_its_definitions_beside() -> None:
    schema = input_schema(Nested)

    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["status"]["items"] == {"$ref": "#/$defs/RunStatus"}
    assert set(schema["$defs"]["RunStatus"]["enum"]) == {s.value for s in RunStatus}
    assert schema["properties"]["limit"] == {"type": "integer", "minimum": 1, "default": 20}


def test_tool_arguments_are_spelled_as_the_query_string_would_have_them() -> None:
    project = uuid.uuid4()

    raw = raw_query(
        project_id=project,
        status=(RunStatus.FAILED, RunStatus.TIMED_OUT),
        is_active=False,
        limit=5,
        cursor=None,
        tags=(),
    )

    assert raw == {
        "project_id": [str(project)],
        "status": ["failed", "timed_out"],
        "is_active": ["false"],
        "limit": ["5"],
    }


async def test_a_call_that_no_authenticated_http_request_carried_is_refused() -> None:
    # In process there is no HTTP request, so no principal: the tools must not run.
    async with Client(mcp_server(), mode="legacy") as client:
        result = await client.call_tool("get_run", {"run_id": str(uuid.uuid4())})

    assert result.is_error
    assert result.structured_content == {
        "status": 401,
        "detail": "call over HTTP with X-API-Key or a bearer JWT",
        "code": "credentials_missing",
    }
