"""Approval tools: the steps waiting for a decision, and deciding one (the `approve` scope)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from adapters.http.commanding import CommandAnswer
from adapters.http.reads import environments as queries
from adapters.mcp.calls import Caller, raw_query
from adapters.mcp.tools import READ_ONLY, WRITES, Limit, McpTool, MinPosition
from commands.approvals import DecideApproval
from domain.limits import ITEMS_MAX, Key, ParamScalar, Reason
from projections import approvals


class ListPendingApprovals(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_id: UUID | None = None
    run_id: UUID | None = None
    limit: Limit = 50
    min_position: MinPosition = None


class DecideApprovalArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    run_id: UUID
    step: Key
    decision: Literal["approve", "reject"]
    comment: Reason = ""
    inputs: Annotated[
        dict[Key, ParamScalar],
        Meta(max_length=ITEMS_MAX, description="the approval step's input fields, typed"),
    ] = {}


async def list_pending_approvals(
    caller: Caller, args: ListPendingApprovals
) -> queries.PendingApprovals:
    query = queries.PENDING.parse(raw_query(**msgspec.structs.asdict(args)))
    projects = queries.reach(caller.principal, args.project_id)

    async def read(conn: object) -> list[approvals.PendingApproval]:
        return await approvals.pending(
            conn,  # type: ignore[arg-type]
            queries.APPROVAL_SCHEMA,
            projects,
            run_id=args.run_id,
            limit=args.limit,
        )

    position, items = await caller.read(queries.APPROVALS, query, read)
    return queries.PendingApprovals(items=items, position=position)


async def decide_approval(caller: Caller, args: DecideApprovalArgs) -> CommandAnswer:
    return await caller.command(DecideApproval(**msgspec.structs.asdict(args)))


TOOLS = (
    McpTool(
        name="list_pending_approvals",
        description=(
            "Steps waiting for a person's decision (approval steps, and steps held by a "
            "protected environment): run, step, prompt, who may decide, approvals so far, and "
            "the deadline after which the default outcome applies."
        ),
        arguments=ListPendingApprovals,
        run=list_pending_approvals,
        annotations=READ_ONLY,
    ),
    McpTool(
        name="decide_approval",
        description=(
            "Approve or reject a waiting step, with a comment and the approval step's inputs "
            "(they become its outputs). Needs the `approve` scope, and to be one of the step's "
            "approvers when it names them; a step not waiting is refused (conflict)."
        ),
        arguments=DecideApprovalArgs,
        run=decide_approval,
        annotations=WRITES,
    ),
)
