"""The MCP server at `/mcp`: streamable HTTP, stateless, JSON answers, behind the API's auth."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib.metadata import version

from litestar.handlers import ASGIRouteHandler, asgi
from litestar.types import Receive, Scope, Send
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from adapters.mcp import (
    analytics_tools,
    approval_tools,
    artifact_tools,
    history,
    notification_tools,
    pipeline_tools,
    run_tools,
    secret_tools,
)
from adapters.mcp.tools import ToolBox

PATH = "/mcp"
INSTRUCTIONS = (
    "flowledger runs CI/CD, RPA and AI pipelines. Find a pipeline with list_pipelines, read its "
    "parameters with describe_pipeline, start it with trigger_run, follow it with get_run "
    "(pass the position trigger_run answered as min_position) and read_run_logs. "
    "list_recent_failures finds what broke; a run's events are at "
    f"{history.TEMPLATE}."
)


def mcp_server() -> Server:
    """The protocol server: the tools, and the history resource template."""
    tools = ToolBox(
        (
            *pipeline_tools.TOOLS,
            *run_tools.TOOLS,
            *approval_tools.TOOLS,
            *secret_tools.TOOLS,
            *analytics_tools.TOOLS,
            *notification_tools.TOOLS,
            *artifact_tools.TOOLS,
        )
    )
    return Server(
        "flowledger",
        version=version("flowledger"),
        instructions=INSTRUCTIONS,
        get_tool_input_schema=tools.input_schema,
        on_list_tools=tools.list_tools,
        on_call_tool=tools.call_tool,
        on_list_resources=history.list_resources,
        on_list_resource_templates=history.list_templates,
        on_read_resource=history.read_resource,
    )


class McpEndpoint:
    """The `/mcp` route and the session manager its lifespan must keep running."""

    def __init__(self, *, max_body_bytes: int) -> None:
        self.server = mcp_server()
        self.max_body_bytes = max_body_bytes
        self._manager: StreamableHTTPSessionManager | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # A manager runs once; a fresh one per lifespan lets the app start again (tests do).
        manager = StreamableHTTPSessionManager(
            app=self.server,
            # Stateless: no session lives in this process, so any API process can answer.
            stateless=True,
            # One JSON body per call: nothing here streams progress.
            json_response=True,
            # DNS-rebinding checks guard servers that trust any local caller; every request
            # here carries an API key or JWT in a header, which a rebound page cannot add.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            max_request_body_size=self.max_body_bytes,
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    def route(self) -> ASGIRouteHandler:
        @asgi(PATH, copy_scope=True)
        async def mcp(scope: Scope, receive: Receive, send: Send) -> None:
            if self._manager is None:
                raise RuntimeError("the MCP endpoint is not running (outside the app lifespan)")
            await self._manager.handle_request(scope, receive, send)  # type: ignore[arg-type]

        return mcp
