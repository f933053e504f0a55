"""Secret tools: the names of a project's secrets (never a value: no tool can read one)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from adapters.http.reads import secrets as queries
from adapters.mcp.calls import Caller, raw_query
from adapters.mcp.tools import READ_ONLY, Limit, McpTool, MinPosition
from projections.secrets import SECRET_SORTS

SecretSort = Literal[tuple(SECRET_SORTS)]  # type: ignore[valid-type]


class ListSecrets(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID
    order_by: SecretSort | None = None
    order: Literal["asc", "desc"] = "asc"
    limit: Limit = 20
    cursor: Annotated[str | None, Meta(description="the previous answer's next_cursor")] = None
    min_position: MinPosition = None


async def list_secrets(caller: Caller, args: ListSecrets) -> queries.SecretPage:
    fields = msgspec.structs.asdict(args)
    project_id = fields.pop("project_id")
    query = queries.SECRETS.parse(raw_query(**fields))
    reader = queries.secrets_reader(caller.principal, project_id, query)
    position, result = await caller.read(queries.VIEWS, query, reader)
    return queries.page_of_secrets(query, position, result)


TOOLS = (
    McpTool(
        name="list_secrets",
        description=(
            "The names of a project's secrets: scope (environment or pipeline_id; both "
            "null: project-wide), version, who set them and when. Values are never shown; "
            "steps receive them by declaring `secrets: [NAME]`."
        ),
        arguments=ListSecrets,
        run=list_secrets,
        annotations=READ_ONLY,
    ),
)
