"""Approver groups: a project's named sets of principals that approvals list as `group:<name>`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, put
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.approver_groups import SetApproverGroup
from domain.approver_group import MEMBERS_MAX
from domain.limits import Key


class GroupMembers(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    members: Annotated[tuple[Key, ...], Meta(max_length=MEMBERS_MAX)]
    """Who the group admits: `key:<api key id>` or `jwt:<subject>`, each once."""


class ApproverGroupsController(Controller):
    path = "/api/v1/projects"
    tags = ["approvals"]

    @put(
        "/{project_id:uuid}/approver-groups/{name:str}",
        operation_id="setApproverGroup",
        status_code=202,
        responses=answers(202),
        description="Create the approver group, or replace its members (the `admin` scope). "
        "An approval step or an environment lists it among its `approvers` as `group:<name>`; "
        "membership is checked when someone decides, and the decision records the group.",
    )
    async def set_members(
        self,
        request: Req,
        project_id: FromPath[UUID],
        name: FromPath[str],
        data: JSONBody[GroupMembers],
    ) -> Response[bytes]:
        command = SetApproverGroup(project_id=project_id, name=name, members=data.members)
        return await execute(request, command)
