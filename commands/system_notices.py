"""An operator's system notice: admins of every project only."""

from __future__ import annotations

from typing import Literal

import msgspec

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from domain.limits import Description, Name
from domain.system_notice import SystemNotice


class SendSystemNotice(msgspec.Struct, frozen=True, kw_only=True):
    title: Name
    message: Description = ""
    level: Literal["info", "warning", "critical"] = "info"


async def send_system_notice(
    command: SendSystemNotice, context: CommandContext, deps: Dependencies
) -> CommandResult:
    context.principal.require("admin", None)
    notice = SystemNotice.send(
        id=context.new_id("system-notice"),
        level=command.level,
        title=command.title,
        message=command.message,
        at=context.at,
    )
    return answer(notice, await deps.repository.save(notice, metadata=context.metadata()))


HANDLERS = {SendSystemNotice: send_system_notice}
