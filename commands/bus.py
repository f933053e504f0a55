"""Routes each command to its handler, retrying a version conflict when the command allows it."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from commands.boundary import checked
from commands.context import CommandContext
from commands.ports import (
    CommandObserver,
    DataSubjects,
    Heartbeats,
    Quarantines,
    ReadMoved,
    Repository,
    SecretReader,
    Secrets,
    SecretSealer,
    SecretValues,
    VersionConflict,
    WebhookGate,
)

READ_MOVED_RETRIES = 2
"""Attempts again after a read guard moved: the second reads afresh, so a third is rare."""


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
    quarantines: Quarantines | None = None
    """Only the quarantine decisions need it."""
    secret_values: SecretValues | None = None
    """Only the project secrets' commands need it."""
    secret_reader: SecretReader | None = None
    """Only handing secrets to a running attempt needs it."""
    webhook_gate: WebhookGate | None = None
    """Only taking in a webhook delivery needs it."""


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
        conflicts, moves, fresh = 0, 0, False
        while True:
            # What the handler only reads may be answered from a cache unread (a caching
            # repository's read guards): its append checks it, else `stale` does.
            with self._read_scope(trust_cache=not fresh) as noted, self._command_scope():
                try:
                    result = await handler(command, context, self._dependencies)
                except ReadMoved as moved:
                    # Nothing written, and what was read is known to have moved: decide again,
                    # unless it is no read of this attempt's (the request's credential, say).
                    if noted is None or moves == READ_MOVED_RETRIES or not _of(noted, moved):
                        raise
                    moves, fresh = moves + 1, True
                    continue
                except VersionConflict:
                    # Safe to retry: the handler reloads and decides again on the fresh state.
                    if conflicts == retries:
                        raise
                    conflicts += 1
                    continue
                except Exception:
                    if await self._stale(noted):
                        fresh = True  # refused on what moved meanwhile: decide again
                        continue
                    raise
                if result.position is None and await self._stale(noted):
                    fresh = True  # wrote nothing (no append checked the reads): decide again
                    continue
                return result

    def _command_scope(self) -> contextlib.AbstractContextManager[object]:
        """One attempt's scope on the repository: a caching one keeps what the attempt loaded."""
        scope = getattr(self._dependencies.repository, "command_scope", None)
        return contextlib.nullcontext() if scope is None else scope()

    def _read_scope(self, *, trust_cache: bool) -> contextlib.AbstractContextManager[Any]:
        """One attempt's read guards (None: a repository without them, or an outer scope's)."""
        scope = getattr(self._dependencies.repository, "read_scope", None)
        return contextlib.nullcontext() if scope is None else scope(trust_cache=trust_cache)

    async def _stale(self, noted: object) -> bool:
        """Whether something the attempt took unread has moved on (never, without a scope)."""
        if noted is None:
            return False
        stale_unread = self._dependencies.repository.stale_unread  # type: ignore[attr-defined]
        return bool(await stale_unread(noted))


def _of(noted: Any, moved: ReadMoved) -> bool:
    """Whether the moved read is one the attempt noted (one that names no stream is taken to)."""
    stream_id = getattr(moved, "stream_id", None)
    return stream_id is None or bool(noted.holds(stream_id))
