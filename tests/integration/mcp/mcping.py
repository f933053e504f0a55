"""Test helpers: an SDK client session over HTTP, tool calls, and a world made through the API."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult
from mcp_types.version import LATEST_MODERN_VERSION

from tests.helpers import unique_id

PARAMETERS = [
    {"name": "target", "type": "string", "required": True},
    {"name": "shards", "type": "integer", "default": 1},
]
STEPS = [{"name": "build", "run": "make"}, {"name": "test", "run": "make test"}]


@contextlib.asynccontextmanager
async def mcp_session(base_url: str, headers: dict[str, str]) -> AsyncIterator[ClientSession]:
    """An initialized SDK session to `/mcp` (the initialize handshake), with `headers`."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@contextlib.asynccontextmanager
async def stateless_client(base_url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    """The SDK's `Client` on the 2026-07-28 revision: no handshake, every request stands alone."""
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, mode=LATEST_MODERN_VERSION, cache=None) as client:
            yield client


async def ok(session: ClientSession | Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The structured answer of a call that must succeed (its text is the same JSON)."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert json.loads(_text(result)) == result.structured_content
    return result.structured_content or {}


async def refused(session: ClientSession | Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The problem of a call that must be refused: `code`, `status`, `detail` (also in text)."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, _text(result)
    problem = result.structured_content or {}
    assert _text(result) == f"{problem['code']}: {problem['detail']}"
    return problem


def _text(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


class Api:
    """The plain HTTP API of the same server, to build a world and to compare answers."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)

    async def post(self, headers: dict[str, str], path: str, body: Any, expect: int) -> Any:
        response = await self.http.post(path, json=body, headers=headers)
        assert response.status_code == expect, response.text
        return response.json()

    async def get(self, headers: dict[str, str], path: str, **params: Any) -> Any:
        response = await self.http.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def head(self, headers: dict[str, str]) -> int:
        """The last event position written: reads given it as `min_position` see everything."""
        return (await self.get(headers, "/api/v1/status"))["head_position"]

    async def project(self, admin: dict[str, str]) -> str:
        body = {"name": "mcp", "slug": unique_id("mcp-")[:40]}
        return (await self.post(admin, "/api/v1/projects", body, 201))["id"]

    async def pipeline(self, admin: dict[str, str], project_id: str, **fields: Any) -> str:
        body = {
            "project_id": project_id,
            "name": fields.pop("name", "deploy"),
            "steps": STEPS,
            "parameters": PARAMETERS,
            **fields,
        }
        return (await self.post(admin, "/api/v1/pipelines", body, 201))["id"]

    async def step(self, headers: dict[str, str], run_id: str, **body: Any) -> int:
        path = f"/api/v1/pipeline-runs/{run_id}/status"
        return (await self.post(headers, path, body, 202))["position"]

    async def logs(self, headers: dict[str, str], run_id: str, *chunks: dict[str, Any]) -> int:
        path = f"/api/v1/pipeline-runs/{run_id}/logs"
        return (await self.post(headers, path, {"chunks": list(chunks)}, 202))["position"]
