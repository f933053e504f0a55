"""A pipeline file read from the repository at a pushed sha: its version, or why it is refused.

The intake sends these (as the push's principal) after its `RepositoryFiles` port has read
and parsed the file; the handlers decide with the Pipeline aggregate like any other version.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import written
from commands.schedule_times import check_schedule_triggers
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition
from domain.pipeline_file import FileOrigin, FileProblem, RepositoryFileSpec


class DefineVersionFromRepository(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    definition: PipelineDefinition
    origin: FileOrigin


class RefuseRepositoryFile(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    origin: FileOrigin
    problem: FileProblem


class VersionFromRepository(CommandResult, frozen=True, kw_only=True, omit_defaults=True):
    """The version the file defined (or the current one, when the file changed nothing)."""

    pipeline_version: int = 0


class FileRead(msgspec.Struct, frozen=True, kw_only=True):
    """A pipeline file read and parsed: its definition, and where each field was written."""

    definition: PipelineDefinition
    places: dict[str, tuple[int, int]] = {}

    def problem(self, field: str, reason: str) -> FileProblem:
        """A refusal of `field`, placed where the file wrote it (or its nearest parent)."""
        path = field
        while path and path not in self.places:
            path = path[: max(path.rfind("."), path.rfind("["), 0)]
        line, column = self.places.get(path, (None, None)) if path else (None, None)
        return FileProblem(reason=reason[:2000], field=field[:500], line=line, column=column)


class RepositoryFiles(Protocol):
    """Reads a pipeline file from a repository at one commit (an adapter runs git)."""

    async def __call__(
        self,
        *,
        pipeline_id: UUID,
        project_id: UUID,
        spec: RepositoryFileSpec,
        url: str,
        ref: str | None,
        sha: str,
    ) -> FileRead | FileProblem:
        """The file's definition, or the problem (unreachable, missing, not YAML, invalid)."""


async def define_version_from_repository(
    command: DefineVersionFromRepository, context: CommandContext, deps: Dependencies
) -> VersionFromRepository:
    pipeline = await deps.repository.get(Pipeline, command.pipeline_id)
    context.principal.require_on("write", pipeline, pipeline.project_id)
    check_schedule_triggers(command.definition)
    version = pipeline.define_version_from_repository(
        command.definition, command.origin, at=context.at
    )
    saved = await deps.repository.save(pipeline, metadata=context.metadata())
    return VersionFromRepository(**written(pipeline, saved), pipeline_version=version)


async def refuse_repository_file(
    command: RefuseRepositoryFile, context: CommandContext, deps: Dependencies
) -> CommandResult:
    pipeline = await deps.repository.get(Pipeline, command.pipeline_id)
    context.principal.require_on("write", pipeline, pipeline.project_id)
    pipeline.refuse_repository_file(command.origin, command.problem, at=context.at)
    saved = await deps.repository.save(pipeline, metadata=context.metadata())
    return CommandResult(**written(pipeline, saved))


HANDLERS = {
    DefineVersionFromRepository: define_version_from_repository,
    RefuseRepositoryFile: refuse_repository_file,
}
