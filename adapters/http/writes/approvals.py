"""Approvals: approve or reject a step that waits for people's decision."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.approvals import DecideApproval
from domain.limits import ITEMS_MAX, Key, ParamScalar, Reason


class ApprovalDecision(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    decision: Literal["approve", "reject"]
    comment: Reason = ""
    inputs: Annotated[dict[Key, ParamScalar], Meta(max_length=ITEMS_MAX)] = {}
    """Values for the approval step's input fields (typed as its definition says); they
    become the step's outputs."""


class ApprovalsController(Controller):
    path = "/api/v1/pipeline-runs"
    tags = ["approvals"]

    @post(
        "/{run_id:uuid}/approvals/{step:str}",
        operation_id="decideApproval",
        responses=answers(202),
        description=(
            "Approve or reject a step that waits in `waiting_for_approval` (an approval step, or "
            "a step targeting a protected environment). Needs the `approve` scope on the run's "
            "project and, when the step names approvers, to be one of them (`key:<id>`, "
            "`jwt:<subject>`). A step not waiting (decided, or never gated) is a 409."
        ),
    )
    async def decide(
        self,
        request: Req,
        run_id: FromPath[UUID],
        step: FromPath[str],
        data: JSONBody[ApprovalDecision],
    ) -> Response[bytes]:
        command = DecideApproval(run_id=run_id, step=step, **msgspec.structs.asdict(data))
        return await execute(request, command)
