"""Project settings: the default queue timeout of the project's steps."""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from domain.limits import Description
from domain.project import QUEUE_TIMEOUT_MAX_S, QUEUE_TIMEOUT_MIN_S, Project

QueueTimeoutS = Annotated[int, Meta(ge=QUEUE_TIMEOUT_MIN_S, le=QUEUE_TIMEOUT_MAX_S)]


class SetProjectQueueTimeout(msgspec.Struct, frozen=True, kw_only=True):
    """None: the project's steps that set no `queue_timeout_s` follow the server's default."""

    retry_on_conflict: ClassVar[bool] = True
    project_id: UUID
    default_queue_timeout_s: QueueTimeoutS | None
    reason: Description = ""


async def set_project_queue_timeout(
    command: SetProjectQueueTimeout, context: CommandContext, deps: Dependencies
) -> CommandResult:
    project = await deps.repository.get(Project, command.project_id)
    context.principal.require_on("admin", project, project.id)
    project.set_queue_timeout(command.default_queue_timeout_s, reason=command.reason, at=context.at)
    return answer(project, await deps.repository.save(project, metadata=context.metadata()))


HANDLERS = {SetProjectQueueTimeout: set_project_queue_timeout}
