"""Approver groups: a project's named sets of principals, and which one admits a decider."""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from commands.ports import Repository
from domain.approver_group import MEMBERS_MAX, ApproverGroup, group_id, groups_in
from domain.errors import AggregateNotFound
from domain.limits import EnvironmentName, Key
from domain.project import Project


class SetApproverGroup(msgspec.Struct, frozen=True, kw_only=True):
    """Create the group, or replace its members (`key:<api key id>`, `jwt:<subject>`)."""

    retry_on_conflict: ClassVar[bool] = True
    project_id: UUID
    name: EnvironmentName
    members: Annotated[tuple[Key, ...], Meta(max_length=MEMBERS_MAX)] = ()


async def set_approver_group(
    command: SetApproverGroup, context: CommandContext, deps: Dependencies
) -> CommandResult:
    project = await deps.repository.get(Project, command.project_id)
    context.principal.require_on("admin", project, project.id)
    try:
        group = await deps.repository.get(ApproverGroup, group_id(project.id, command.name))
    except AggregateNotFound:
        group = ApproverGroup.create(
            project_id=project.id, name=command.name, members=command.members, at=context.at
        )
    else:
        group.set_members(command.members, at=context.at)
    return answer(group, await deps.repository.save(group, metadata=context.metadata()))


async def admitting_group(
    repository: Repository, project_id: UUID, approvers: tuple[str, ...], principal: str
) -> str | None:
    """The first group among `approvers` that holds `principal` now, or None."""
    for name in groups_in(approvers):
        try:
            group = await repository.get(ApproverGroup, group_id(project_id, name))
        except AggregateNotFound:
            continue  # named before it was set up: it admits nobody yet
        if group.admits(principal):
            return name
    return None


HANDLERS = {SetApproverGroup: set_approver_group}
