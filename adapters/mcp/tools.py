"""The tool registry: each tool's arguments are a msgspec Struct, its schema and its validator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)
from msgspec import Meta

from adapters.mcp.calls import Caller, answered

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
STOPS = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)

Limit = Annotated[int, Meta(ge=1, le=1000, description="page size")]
MinPosition = (
    Annotated[
        int,
        Meta(ge=0, description="wait (up to 5 s) until the views have applied this event position"),
    ]
    | None
)


@dataclass(frozen=True)
class McpTool:
    """One tool: `run` gets the caller and the decoded arguments, and answers a Struct."""

    name: str
    description: str
    arguments: type[msgspec.Struct]
    run: Callable[[Caller, Any], Awaitable[msgspec.Struct]]
    annotations: ToolAnnotations
    schema: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", input_schema(self.arguments))

    def listing(self) -> Tool:
        return Tool(
            name=self.name,
            description=self.description,
            input_schema=self.schema,
            annotations=self.annotations,
        )


def input_schema(arguments: type[msgspec.Struct]) -> dict[str, Any]:
    """The Struct's JSON schema as an MCP `inputSchema`: an object at the top, not a `$ref`."""
    schema = msgspec.json.schema(arguments)
    definitions = dict(schema.get("$defs", {}))
    top = definitions.pop(arguments.__name__)
    top.pop("title", None)
    return {**top, "$defs": definitions} if definitions else top


class ToolBox:
    """Answers `tools/list` and `tools/call` for a fixed set of tools."""

    def __init__(self, tools: Sequence[McpTool]) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self._listing = ListToolsResult(tools=[tool.listing() for tool in tools])

    async def list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return self._listing

    def input_schema(self, name: str) -> dict[str, Any] | None:
        tool = self.tools.get(name)
        return None if tool is None else tool.schema

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
    ) -> CallToolResult:
        tool = self.tools.get(params.name)
        if tool is None:
            known = ", ".join(sorted(self.tools))
            raise MCPError(INVALID_PARAMS, f"unknown tool {params.name!r}; tools: {known}")
        try:
            arguments = msgspec.convert(params.arguments or {}, tool.arguments)
        except msgspec.ValidationError as exc:
            return _invalid_arguments(tool.name, str(exc))
        return await answered(_run(tool, ctx, arguments))


async def _run(tool: McpTool, ctx: ServerRequestContext[Any, Any], arguments: Any) -> Any:
    return await tool.run(Caller.of(ctx), arguments)


def _invalid_arguments(tool: str, reason: str) -> CallToolResult:
    detail = f"invalid arguments for {tool}: {reason}"
    return CallToolResult(
        content=[TextContent(type="text", text=f"invalid_input: {detail}")],
        structured_content={"status": 422, "code": "invalid_input", "detail": detail},
        is_error=True,
    )
