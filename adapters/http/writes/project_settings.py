"""Project settings: the default queue timeout of the project's steps."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller, Response, put
from litestar.params import FromPath, JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.project_settings import QueueTimeoutS, SetProjectQueueTimeout
from domain.limits import Description


class ProjectQueueTimeout(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    default_queue_timeout_s: QueueTimeoutS | None
    """Seconds a step that sets no `queue_timeout_s` waits for a runner before it fails
    `no_runner`; null: the server's `FLOWLEDGER_QUEUE_TIMEOUT_S`."""
    reason: Description = ""


class ProjectSettingsController(Controller):
    path = "/api/v1/projects"
    tags = ["projects"]

    @put(
        "/{project_id:uuid}/queue-timeout",
        operation_id="setProjectQueueTimeout",
        status_code=202,
        responses=answers(202),
    )
    async def set_queue_timeout(
        self, request: Req, project_id: FromPath[UUID], data: JSONBody[ProjectQueueTimeout]
    ) -> Response[bytes]:
        command = SetProjectQueueTimeout(
            project_id=project_id,
            default_queue_timeout_s=data.default_queue_timeout_s,
            reason=data.reason,
        )
        return await execute(request, command)
