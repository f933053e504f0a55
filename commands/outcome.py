"""Turns a saved aggregate into the answer a command gives, and the answers that say more."""

from __future__ import annotations

from typing import TypedDict

from eventsourcing.domain import Aggregate

from commands.bus import CommandResult
from commands.ports import Appended


class Written(TypedDict):
    """The fields every answer has: where the stream stands after the command."""

    id: str
    version: int
    position: int | None
    duplicate: bool


class SecretShown(CommandResult, frozen=True, kw_only=True, omit_defaults=True):
    """The answer of a command that made a secret: a new API key, a generated webhook secret."""

    secret: str | None = None
    """Shown this once, never stored in clear: None on a replay, or when the caller chose it."""


def written(aggregate: Aggregate, appended: Appended | None) -> Written:
    if appended is None:
        # The command decided nothing (already so): report where the stream stands.
        return Written(
            id=str(aggregate.id), version=aggregate.version, position=None, duplicate=False
        )
    return Written(
        id=appended.stream_id,
        version=appended.to_version,
        position=appended.last_position,
        duplicate=appended.duplicate,
    )


def answer(aggregate: Aggregate, appended: Appended | None) -> CommandResult:
    return CommandResult(**written(aggregate, appended))


def with_secret(aggregate: Aggregate, appended: Appended | None, secret: str | None) -> SecretShown:
    # A replayed request wrote nothing: the first answer showed the secret, this one cannot.
    shown = None if appended is not None and appended.duplicate else secret
    return SecretShown(**written(aggregate, appended), secret=shown)
