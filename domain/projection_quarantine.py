"""The ProjectionQuarantine aggregate: an operator's decisions about one view's quarantine.

A read model that failed on an event keeps it aside (the projector's quarantine). What an
operator then decides is history, like any other decision: skipping the poison event for good
(`ProjectionEventSkipped`), or asking the view to apply the stream's quarantined events again
after a fix (`ProjectionRetryRequested`). The projector reads these events in the feed and acts
on them where they fall, so a rebuild replays every skip and retry in order.

One stream per view, its id derived from the view's name.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidValue
from domain.limits import ACTOR_MAX, REASON_MAX
from domain.moments import require_aware

_NAMESPACE = UUID("3f0c6a55-8c55-4b9e-a0f3-2a61f8b0c7d1")
SKIPPED = "ProjectionEventSkipped"
RETRY_REQUESTED = "ProjectionRetryRequested"
DECISIONS = frozenset({SKIPPED, RETRY_REQUESTED})
"""The event types a projector acts on for the view they name."""


def quarantine_id(projection: str) -> UUID:
    """The stream of one view's quarantine decisions."""
    return uuid.uuid5(_NAMESPACE, f"projection:{projection}")


class ProjectionQuarantine(Aggregate):
    """Who decided what about a view's quarantined events, and why."""

    stream_type = "projection"

    class Event(Aggregate.Event):
        pass

    class Opened(Event, Aggregate.Created):
        event_type: ClassVar[str] = "ProjectionQuarantineOpened"
        projection: str

    class EventSkipped(Event):
        event_type: ClassVar[str] = SKIPPED
        projection: str
        position: int
        """The poison event's position in the feed."""
        event_id: UUID
        stream_id: str
        skipped_by: str
        reason: str

        def apply(self, aggregate: ProjectionQuarantine) -> None:
            aggregate.skipped = (*aggregate.skipped, self.position)

    class RetryRequested(Event):
        event_type: ClassVar[str] = RETRY_REQUESTED
        projection: str
        position: int
        """The poison event the stream waits behind."""
        stream_id: str
        requested_by: str
        reason: str

    def __init__(self, projection: str) -> None:
        self.projection = projection
        self.skipped: tuple[int, ...] = ()

    @classmethod
    def open(cls, projection: str, *, at: datetime) -> ProjectionQuarantine:
        require_aware(at, "at")
        return cls._create(
            cls.Opened, id=quarantine_id(projection), timestamp=at, projection=projection
        )

    def skip(
        self,
        *,
        position: int,
        event_id: UUID,
        stream_id: str,
        skipped_by: str,
        reason: str,
        at: datetime,
    ) -> None:
        """Skip the poison event at `position` for good; skipping it again decides nothing."""
        require_aware(at, "at")
        reason = _text("reason", reason, REASON_MAX)
        skipped_by = _text("skipped_by", skipped_by, ACTOR_MAX)
        if position in self.skipped:
            return
        self.trigger_event(
            self.EventSkipped,
            projection=self.projection,
            position=position,
            event_id=event_id,
            stream_id=stream_id,
            skipped_by=skipped_by,
            reason=reason,
            timestamp=at,
        )

    def request_retry(
        self, *, position: int, stream_id: str, requested_by: str, reason: str, at: datetime
    ) -> None:
        """Ask the view to apply the stream's quarantined events again, in order."""
        require_aware(at, "at")
        self.trigger_event(
            self.RetryRequested,
            projection=self.projection,
            position=position,
            stream_id=stream_id,
            requested_by=_text("requested_by", requested_by, ACTOR_MAX),
            reason=_text("reason", reason, REASON_MAX),
            timestamp=at,
        )


def _text(field: str, value: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidValue(field, "must not be blank: an operator's decision says why")
    if len(value) > limit:
        raise InvalidValue(field, f"at most {limit} characters")
    return value
