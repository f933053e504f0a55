"""Notification tools: a project's notification rules (channels name secrets, never hold one)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from adapters.http.reads import notification_rules as queries
from adapters.http.reads import views
from adapters.http.reads.params import page_of
from adapters.mcp.calls import Caller, raw_query
from adapters.mcp.tools import READ_ONLY, Limit, McpTool, MinPosition
from domain.notification_rule import RuleStatus
from projections import notification_rules

Status = Literal[tuple(s.value for s in RuleStatus)]  # type: ignore[valid-type]


class ListNotificationRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID
    status: tuple[Status, ...] = ()
    limit: Limit = 20
    cursor: Annotated[str | None, Meta(description="the previous answer's next_cursor")] = None
    min_position: MinPosition = None


async def list_notification_rules(caller: Caller, args: ListNotificationRules) -> queries.RulePage:
    fields = msgspec.structs.asdict(args)
    project_id = fields.pop("project_id")
    query = queries.LIST.parse(raw_query(**fields))
    principal = caller.principal
    if principal.project_id is not None and principal.project_id != project_id:
        raise views.not_found("project")
    principal.require("admin", project_id)
    status = tuple(RuleStatus(s) for s in query.get("status", ()))
    page = page_of(query)

    async def read(conn: Any) -> Any:
        return await notification_rules.list_rules(
            conn, queries.SCHEMA, project_ids=(project_id,), status=status, page=page
        )

    position, result = await caller.read(queries.VIEWS, query, read)
    return views.page_body(queries.RulePage, query, position, result)


TOOLS = (
    McpTool(
        name="list_notification_rules",
        description=(
            "A project's notification rules (needs admin on it): name, triggers (run_failed, "
            "run_recovered, approval_waiting, runner_lost, system_notice), pipeline and branch "
            "filters, channel (Slack webhook or e-mail; secrets by name only), status, parked "
            "notifications, who created and last changed each."
        ),
        arguments=ListNotificationRules,
        run=list_notification_rules,
        annotations=READ_ONLY,
    ),
)
