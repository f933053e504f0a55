"""One MCP call: who is calling (from its HTTP request), and its answer or refusal.

Commands go through the same command bus and reads through the same consistent view reads as
the HTTP API; refusals through the HTTP API's one exception mapper, so a tool says what the
API would (same `code`, same detail), as a result the model can read and act on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import asyncpg
import msgspec
from litestar.plugins.problem_details import ProblemDetailsException
from mcp.server.context import ServerRequestContext
from mcp_types import CallToolResult, TextContent

from adapters.http.commanding import CommandAnswer, answer_of, command_context
from adapters.http.own_writes import OwnWrites
from adapters.http.problems import MAPPERS, problem
from adapters.http.reads.consistency import own_write_missed, read_consistent
from adapters.http.reads.params import Query
from adapters.platform.services import Services
from commands.bus import CommandResult
from commands.context import Principal

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of the HTTP request that carried the call."""

    principal: Principal
    services: Services
    headers: Mapping[str, str]
    own_writes: OwnWrites | None = None
    """Read-your-writes, shared with the HTTP routes of the same app."""

    @classmethod
    def of(cls, ctx: ServerRequestContext[Any, Any]) -> Caller:
        # The API's authentication middleware ran before the MCP transport saw the request
        # and left the Principal in the ASGI scope; the SDK hands that request to each call.
        request = ctx.request
        scope = getattr(request, "scope", None) or {}
        principal = scope.get("user")
        if not isinstance(principal, Principal):
            raise problem(
                401, "credentials_missing", "call over HTTP with X-API-Key or a bearer JWT"
            )
        state = scope["litestar_app"].state
        own_writes = state.get("own_writes")
        return cls(
            principal=principal,
            services=state.services,
            headers=request.headers,
            own_writes=own_writes if isinstance(own_writes, OwnWrites) else None,
        )

    async def command(self, command: object) -> CommandAnswer:
        """Dispatch through the command bus, as the HTTP command routes do."""
        context = command_context(self.principal, self.headers, idempotency_key=None)
        result: CommandResult = await self.services.bus.dispatch(command, context)
        if self.own_writes is not None:
            self.own_writes.note(self.principal.id, result.position)
        return answer_of(result)

    async def read(
        self,
        names: Sequence[str],
        query: Query,
        read: Callable[[asyncpg.Connection], Awaitable[T]],
    ) -> tuple[int, T]:
        """Read the views at one snapshot, after waiting for `min_position` if the query has it,
        else (bounded) for the caller's own last write; the answer's position tells which."""
        pool = self.services.store.pool
        wanted = query.get("min_position")
        if wanted is None and self.own_writes is not None:
            await own_write_missed(pool, names, self.own_writes, self.principal.id)
        return await read_consistent(pool, names, read, wanted=wanted)


def raw_query(**values: Any) -> dict[str, list[str]]:
    """Tool arguments spelled as a query string, for the HTTP API's own parameter parsing."""
    raw: dict[str, list[str]] = {}
    for name, value in values.items():
        if value is None or value == ():
            continue
        items = value if isinstance(value, list | tuple) else [value]
        raw[name] = [_spelled(item) for item in items]
    return raw


def _spelled(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


async def answered(work: Awaitable[msgspec.Struct]) -> CallToolResult:
    """The tool's answer as JSON (text and structured), or its refusal as an error result."""
    try:
        body = await work
    except Exception as exc:
        found = problem_of(exc)
        if found is None:
            raise  # not a refusal: the SDK answers it as a protocol error
        return refusal(found)
    return CallToolResult(
        content=[TextContent(type="text", text=msgspec.json.encode(body).decode())],
        structured_content=msgspec.to_builtins(body),
    )


def problem_of(exc: Exception) -> ProblemDetailsException | None:
    """The problem the HTTP API would answer for `exc`, or None if it would not expect it."""
    if isinstance(exc, ProblemDetailsException):
        return exc
    for kind in type(exc).__mro__:
        mapper = MAPPERS.get(kind)
        if mapper is not None:
            return mapper(exc)
    return None


def problem_fields(found: ProblemDetailsException) -> dict[str, Any]:
    """The problem as the API's JSON body has it: status, detail, code and the rest."""
    extra = found.extra if isinstance(found.extra, dict) else {}
    return {"status": found.status_code, "detail": found.detail, **extra}


def refusal(found: ProblemDetailsException) -> CallToolResult:
    fields = problem_fields(found)
    return CallToolResult(
        content=[TextContent(type="text", text=f"{fields.get('code', 'error')}: {found.detail}")],
        structured_content=fields,
        is_error=True,
    )
