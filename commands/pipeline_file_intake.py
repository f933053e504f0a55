"""The intake's part in pipelines as code: a push to a pipeline with a `repository_file`.

The file is read at exactly the pushed sha (the `RepositoryFiles` port runs git), then either
defines the pipeline's next version, which the push's run pins, or is refused on the record
(`PipelineRepositoryFileRefused`, with its line and column) and no run starts. Both are
written as the push (its pusher is the actor), so an auditor sees whose commit changed the
pipeline. Only pushes read a file: a pull request's head may come from anyone's fork.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

import msgspec

from commands.context import CommandContext
from commands.pipeline_files import (
    DefineVersionFromRepository,
    FileRead,
    RefuseRepositoryFile,
    RepositoryFiles,
    VersionFromRepository,
)
from commands.ports import Repository
from commands.webhook_payloads import Push
from domain.errors import DomainError, InvalidValue
from domain.limits import REPO_MAX, cut
from domain.pipeline import Pipeline
from domain.pipeline_file import FileOrigin, FileProblem, problem

Dispatch = Callable[[object, CommandContext], Awaitable[object]]
Context = Callable[[str], CommandContext]
"""The push's command context under an idempotency key ending in the given suffix."""


class FileRefused(msgspec.Struct, frozen=True, kw_only=True):
    """The file defined nothing: the run is not started, for this reason."""

    reason: str


async def version_for_push(
    *,
    dispatch: Dispatch,
    repository: Repository,
    files: RepositoryFiles | None,
    pipeline_id: UUID,
    facts: Push,
    delivery_id: str,
    context: Context,
) -> int | FileRefused | None:
    """The version the push's run pins: None (no file: the current one), the version its file
    defined, or FileRefused (recorded on the pipeline) when the file could define none."""
    pipeline = await repository.get(Pipeline, pipeline_id)
    spec = pipeline.definition().repository_file
    if spec is None:
        return None
    origin = FileOrigin(
        repository=cut(facts.repo or facts.clone_url or "", REPO_MAX),
        sha=facts.sha,
        path=spec.path,
        delivery_id=delivery_id[:255],
    )
    if files is None:
        found: FileRead | FileProblem = problem("this intake cannot read repository files")
    elif not facts.clone_url:
        found = problem("the push named no repository URL to read the pipeline file from")
    else:
        found = await files(
            pipeline_id=pipeline_id,
            project_id=pipeline.project_id,
            spec=spec,
            url=facts.clone_url,
            ref=facts.ref,
            sha=facts.sha,
        )
    if isinstance(found, FileRead):
        command = DefineVersionFromRepository(
            pipeline_id=pipeline_id, definition=found.definition, origin=origin
        )
        try:
            result = await dispatch(command, context("file"))
        except InvalidValue as error:
            found = found.problem(error.field, error.reason)
        except DomainError as error:
            found = problem(str(error))
        else:
            assert isinstance(result, VersionFromRepository)
            return result.pipeline_version
    refusal = RefuseRepositoryFile(pipeline_id=pipeline_id, origin=origin, problem=found)
    await dispatch(refusal, context("file-refused"))
    return FileRefused(reason=f"{spec.path} at {facts.sha}: {found}")
