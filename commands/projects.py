"""Project commands: create, rename, archive."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from domain.limits import Description, Name, Slug
from domain.project import Project


class CreateProject(msgspec.Struct, frozen=True, kw_only=True):
    name: Name
    slug: Slug
    description: Description = ""


class RenameProject(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    project_id: UUID
    name: Name


class ArchiveProject(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    project_id: UUID


async def create_project(
    command: CreateProject, context: CommandContext, deps: Dependencies
) -> CommandResult:
    context.principal.require("admin", None)
    project = Project.create(
        id=context.new_id("project"),
        name=command.name,
        slug=command.slug,
        description=command.description,
        at=context.at,
    )
    return answer(project, await deps.repository.save(project, metadata=context.metadata()))


async def rename_project(
    command: RenameProject, context: CommandContext, deps: Dependencies
) -> CommandResult:
    project = await deps.repository.get(Project, command.project_id)
    context.principal.require_on("admin", project, project.id)
    project.rename(command.name, at=context.at)
    return answer(project, await deps.repository.save(project, metadata=context.metadata()))


async def archive_project(
    command: ArchiveProject, context: CommandContext, deps: Dependencies
) -> CommandResult:
    project = await deps.repository.get(Project, command.project_id)
    context.principal.require_on("admin", project, project.id)
    project.archive(at=context.at)
    return answer(project, await deps.repository.save(project, metadata=context.metadata()))


HANDLERS = {
    CreateProject: create_project,
    RenameProject: rename_project,
    ArchiveProject: archive_project,
}
