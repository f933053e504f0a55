"""Turns a saved aggregate into the answer a command gives."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from commands.bus import CommandResult
from commands.ports import Appended


def answer(aggregate: Aggregate, appended: Appended | None, **extra: Any) -> CommandResult:
    if appended is None:
        # The command decided nothing (already so): report where the stream stands.
        return CommandResult(id=str(aggregate.id), version=aggregate.version, extra=extra)
    return CommandResult(
        id=appended.stream_id,
        version=appended.to_version,
        position=appended.last_position,
        duplicate=appended.duplicate,
        extra=extra,
    )
