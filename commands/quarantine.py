"""An operator's decisions about a view's quarantine: skip the poison event for good, or retry
the stream's quarantined events after a fix. Each is an event of the view's quarantine stream;
the projector acts on it where it falls in the feed (`projections/quarantine.py`)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import written
from commands.ports import Poison
from domain.errors import AggregateNotFound
from domain.limits import INT64_MAX, Keyword, Reason
from domain.projection_quarantine import ProjectionQuarantine, quarantine_id

Position = Annotated[int, Meta(ge=1, le=INT64_MAX)]
RETRY_REASON = "retry after a fix"


class SkipQuarantinedEvent(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    projection: Keyword
    position: Position
    """The poison event (the first quarantined event of its stream)."""
    reason: Reason
    """Why it may be dropped from the view for good: required, kept for auditors."""


class RetryQuarantinedEvents(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    projection: Keyword
    position: Position
    reason: Reason = RETRY_REASON


class QuarantineDecided(CommandResult, frozen=True, kw_only=True):
    projection: str
    stream_id: str
    """The stream the decision releases or retries."""


async def skip_quarantined_event(
    command: SkipQuarantinedEvent, context: CommandContext, deps: Dependencies
) -> QuarantineDecided:
    context.principal.require("admin", None)
    poison = await _poison(command.projection, command.position, deps)
    decisions = await _decisions(command.projection, context, deps)
    decisions.skip(
        position=command.position,
        event_id=poison.event_id,
        stream_id=poison.stream_id,
        skipped_by=context.principal.name,
        reason=command.reason,
        at=context.at,
    )
    return await _save(decisions, poison, context, deps)


async def retry_quarantined_events(
    command: RetryQuarantinedEvents, context: CommandContext, deps: Dependencies
) -> QuarantineDecided:
    context.principal.require("admin", None)
    poison = await _poison(command.projection, command.position, deps)
    decisions = await _decisions(command.projection, context, deps)
    decisions.request_retry(
        position=command.position,
        stream_id=poison.stream_id,
        requested_by=context.principal.name,
        reason=command.reason,
        at=context.at,
    )
    return await _save(decisions, poison, context, deps)


async def _poison(projection: str, position: int, deps: Dependencies) -> Poison:
    if deps.quarantines is None or not await deps.quarantines.known(projection):
        raise AggregateNotFound("projection", projection)
    poison = await deps.quarantines.poison_at(projection, position)
    if poison is None:
        raise AggregateNotFound(f"quarantined event of {projection} at position", position)
    return poison


async def _decisions(
    projection: str, context: CommandContext, deps: Dependencies
) -> ProjectionQuarantine:
    try:
        return await deps.repository.get(ProjectionQuarantine, quarantine_id(projection))
    except AggregateNotFound:
        return ProjectionQuarantine.open(projection, at=context.at)


async def _save(
    decisions: ProjectionQuarantine, poison: Poison, context: CommandContext, deps: Dependencies
) -> QuarantineDecided:
    saved = await deps.repository.save(decisions, metadata=context.metadata())
    return QuarantineDecided(
        **written(decisions, saved), projection=decisions.projection, stream_id=poison.stream_id
    )


HANDLERS = {
    SkipQuarantinedEvent: skip_quarantined_event,
    RetryQuarantinedEvents: retry_quarantined_events,
}
