"""What the webhook process manager works with: a recorded delivery, the pipelines it may start,
the outcome it records, and the two ports it is given (the command bus, the candidates' reader)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

import msgspec

from commands.bus import CommandResult
from commands.context import CommandContext
from domain.trigger_spec import TriggerSpec


class ReceivedDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded `WebhookReceived`, with the envelope fields the process manager needs."""

    stream_id: UUID
    event_id: UUID
    position: int
    source_id: UUID
    project_id: UUID
    source_kind: str
    delivery_id: str
    event: str
    content_type: str = ""
    payload: str
    correlation_id: str | None = None
    traceparent: str | None = None
    """The trace of the request that brought the delivery: the runs it starts continue it."""


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A pipeline of the source's project, with the triggers of its current version."""

    pipeline_id: UUID
    name: str
    active: bool
    triggers: tuple[TriggerSpec, ...]
    reads_file: bool = False
    """Its current version names a `repository_file` (a push reads it at the pushed sha)."""


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    outcome: str
    runs: tuple[UUID, ...] = ()
    reason: str = ""


class Dispatch(Protocol):
    async def __call__(self, command: object, context: CommandContext) -> CommandResult: ...


class Candidates(Protocol):
    """The pipelines a delivery may start: a question for the read side, answered by an adapter
    (commands never import projections)."""

    async def __call__(self, project_id: UUID, *, position: int) -> Sequence[Candidate]:
        """The project's pipelines, oldest first, as they stood at `position` (or later)."""
