"""`POST /api/v1/system/notify`: an operator's broadcast, delivered to every `/ws/system`."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Controller, Response, post
from litestar.params import JSONBody

from adapters.http.answers import answers
from adapters.http.commanding import execute
from adapters.http.security import Req
from commands.system_notices import SendSystemNotice
from domain.limits import Description, Name


class Notice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    title: Name
    message: Description = ""
    level: Literal["info", "warning", "critical"] = "info"


class SystemController(Controller):
    path = "/api/v1/system"
    tags = ["system"]

    @post(
        "/notify",
        operation_id="notifySystem",
        responses=answers(202),
        description="Needs `admin` on every project. Appends a `SystemNoticeSent` event, which "
        "reaches every `/ws/system` watcher (and the NATS stream).",
    )
    async def notify(self, request: Req, data: JSONBody[Notice]) -> Response[bytes]:
        command = SendSystemNotice(title=data.title, message=data.message, level=data.level)
        return await execute(request, command)
