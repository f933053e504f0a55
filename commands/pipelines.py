"""Pipeline commands: create, define a new version, activate, deactivate, archive."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from commands.ports import VersionConflict
from commands.schedule_times import check_schedule_triggers
from domain.errors import IllegalTransition, InvalidValue
from domain.limits import StreamVersion
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition
from domain.project import Project, ProjectStatus


class CreatePipeline(msgspec.Struct, frozen=True, kw_only=True):
    project_id: UUID
    definition: PipelineDefinition


class DefinePipelineVersion(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    definition: PipelineDefinition
    expected_version: StreamVersion | None = None
    """The stream version the client last saw (If-Match); a newer one is a conflict."""
    project_id: UUID | None = None
    """When given (a body fetched with GET and sent back), it must be the pipeline's own."""


class ActivatePipeline(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    pipeline_id: UUID


class DeactivatePipeline(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    pipeline_id: UUID


class ArchivePipeline(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    pipeline_id: UUID


async def create_pipeline(
    command: CreatePipeline, context: CommandContext, deps: Dependencies
) -> CommandResult:
    context.principal.require("write", command.project_id)
    check_schedule_triggers(command.definition)
    project = await deps.repository.get(Project, command.project_id)
    if project.status is not ProjectStatus.ACTIVE:
        raise IllegalTransition("project", project.status.value, "add a pipeline to")
    pipeline = Pipeline.create(
        id=context.new_id("pipeline"),
        project_id=project.id,
        definition=command.definition,
        at=context.at,
    )
    return answer(pipeline, await deps.repository.save(pipeline, metadata=context.metadata()))


async def define_pipeline_version(
    command: DefinePipelineVersion, context: CommandContext, deps: Dependencies
) -> CommandResult:
    pipeline = await deps.repository.get(Pipeline, command.pipeline_id)
    context.principal.require_on("write", pipeline, pipeline.project_id)
    check_schedule_triggers(command.definition)
    if command.project_id is not None and command.project_id != pipeline.project_id:
        raise InvalidValue("project_id", "a pipeline stays in its project; omit it or send its own")
    if command.expected_version is not None and command.expected_version != pipeline.version:
        raise VersionConflict(
            f"pipeline {pipeline.id} is at version {pipeline.version}, "
            f"the update expected {command.expected_version}"
        )
    pipeline.define_version(command.definition, at=context.at)
    return answer(pipeline, await deps.repository.save(pipeline, metadata=context.metadata()))


async def _change(
    pipeline_id: UUID, change: str, context: CommandContext, deps: Dependencies
) -> CommandResult:
    pipeline = await deps.repository.get(Pipeline, pipeline_id)
    context.principal.require_on("write", pipeline, pipeline.project_id)
    getattr(pipeline, change)(at=context.at)
    return answer(pipeline, await deps.repository.save(pipeline, metadata=context.metadata()))


async def activate_pipeline(
    command: ActivatePipeline, context: CommandContext, deps: Dependencies
) -> CommandResult:
    return await _change(command.pipeline_id, "activate", context, deps)


async def deactivate_pipeline(
    command: DeactivatePipeline, context: CommandContext, deps: Dependencies
) -> CommandResult:
    return await _change(command.pipeline_id, "deactivate", context, deps)


async def archive_pipeline(
    command: ArchivePipeline, context: CommandContext, deps: Dependencies
) -> CommandResult:
    return await _change(command.pipeline_id, "archive", context, deps)


HANDLERS = {
    CreatePipeline: create_pipeline,
    DefinePipelineVersion: define_pipeline_version,
    ActivatePipeline: activate_pipeline,
    DeactivatePipeline: deactivate_pipeline,
    ArchivePipeline: archive_pipeline,
}
