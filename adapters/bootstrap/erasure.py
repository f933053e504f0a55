"""`flowledger erase subject`: the erasure as a command through the bus, from the console."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.bootstrap.resources import open_resources
from adapters.platform.admin_key import operator
from adapters.platform.embedded import embedded_servers
from adapters.platform.settings import Settings
from commands.data_subjects import EraseDataSubject


def erase_subject(
    settings: Settings, subject_id: str, *, reason: str, log: Callable[[str], None]
) -> str:
    """Erase one data subject as the console's operator; the stream the erasure is on."""

    async def erase(database_url: str) -> str:
        async with open_resources(settings, "command", database_url) as resources:
            # Who erased: the operator's login at the console (an admin by holding the database).
            who = f"console:{getpass.getuser()}"
            command = EraseDataSubject(subject_id=subject_id, reason=reason)
            result = await resources.services.bus.dispatch(
                command, operator(who, at=datetime.now(UTC))
            )
            return result.id

    with embedded_servers(settings, log=log) as urls:
        return asyncio.run(erase(urls.database_url))
