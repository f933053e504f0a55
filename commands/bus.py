"""Routes each command to its handler, retrying a version conflict when the command allows it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from commands.boundary import checked
from commands.context import CommandContext
from commands.ports import (
    CommandObserver,
    DataSubjects,
    Heartbeats,
    Repository,
    SecretReader,
    Secrets,
    SecretSealer,
    SecretValues,
    VersionConflict,
)


class CommandResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a command answers: the stream it wrote, its new version, the global position.

    A command with more to say answers a subclass naming it (`SecretShown`, `JobsDispatched`),
    so every reader of a result knows its fields' types.
    """

    id: str
    version: int
    position: int | None = None
    """Global position of the last event written; None when the command decided nothing."""
    duplicate: bool = False
    """True when an idempotency key replayed an earlier request: nothing new was written."""


class Dependencies(msgspec.Struct, frozen=True, kw_only=True):
    repository: Repository
    sealer: SecretSealer
    secrets: Secrets
    heartbeats: Heartbeats
    subjects: DataSubjects | None = None
    """Only the erasure needs it; unit tests of other commands leave it out."""
    secret_values: SecretValues | None = None
    """Only the project secrets' commands need it."""
    secret_reader: SecretReader | None = None
    """Only handing secrets to a running attempt needs it."""


Handler = Callable[[Any, CommandContext, Dependencies], Awaitable[CommandResult]]


class CommandBus:
    def __init__(
        self,
        handlers: Mapping[type, Handler],
        dependencies: Dependencies,
        *,
        conflict_retries: int = 3,
        observer: CommandObserver | None = None,
    ) -> None:
        self._handlers = dict(handlers)
        self._dependencies = dependencies
        self._conflict_retries = conflict_retries
        self._observer = observer

    async def dispatch(self, command: object, context: CommandContext) -> CommandResult:
        if self._observer is None:
            return await self._handle(command, context)
        with self._observer.observe(command, context) as observed:
            return await self._handle(command, observed)

    async def _handle(self, command: object, context: CommandContext) -> CommandResult:
        handler = self._handlers[type(command)]
        # Before any handler: a value past its limit (in the command or in what becomes the
        # events' metadata) is refused, and nothing is loaded or written.
        command, context = checked(command), checked(context)
        retries = self._conflict_retries if getattr(command, "retry_on_conflict", False) else 0
        for attempt in range(retries + 1):
            try:
                return await handler(command, context, self._dependencies)
            except VersionConflict:
                # Safe to retry: the handler reloads and decides again on the fresh state.
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")
