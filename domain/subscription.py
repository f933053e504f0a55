"""The Subscription aggregate: a project's outbound webhook (a URL, the events it wants, a secret).

A subscription's secret only ever reaches the domain sealed. Its lifecycle: created enabled;
disabled (by an operator, or by the deliverer when it keeps failing, with the reason) and
enabled again; deleted for good. Each delivery given up on after its retries is parked, and
each re-send asked for is recorded, so an auditor sees every decision about it.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.delivery_record import (
    parked_fields,
    valid_message_id,
    valid_position,
)
from domain.errors import IllegalTransition, InvalidValue
from domain.limits import REASON_MAX, URL_MAX, clean, cut
from domain.moments import require_aware

SEALED_SECRET_MAX = 1024
EVENT_TYPES_MAX = 50
EVENT_PATTERN = re.compile(r"[A-Za-z*?]{1,100}")
"""An event type (`RunFailed`), a glob of them (`Run*`), or `*` for every event."""


class SubscriptionStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"


class Subscription(Aggregate):
    stream_type = "subscription"

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        event_type: ClassVar[str] = "SubscriptionCreated"
        project_id: UUID
        url: str
        event_types: tuple[str, ...]
        sealed_secret: str

    class Disabled(Event):
        event_type: ClassVar[str] = "SubscriptionDisabled"
        reason: str

        def apply(self, aggregate: Subscription) -> None:
            aggregate.status = SubscriptionStatus.DISABLED
            aggregate.disabled_reason = self.reason

    class Enabled(Event):
        event_type: ClassVar[str] = "SubscriptionEnabled"

        def apply(self, aggregate: Subscription) -> None:
            aggregate.status = SubscriptionStatus.ENABLED
            aggregate.disabled_reason = ""

    class Deleted(Event):
        event_type: ClassVar[str] = "SubscriptionDeleted"

        def apply(self, aggregate: Subscription) -> None:
            aggregate.status = SubscriptionStatus.DELETED

    class DeliveryParked(Event):
        event_type: ClassVar[str] = "SubscriptionDeliveryParked"
        message_id: str
        event_position: int
        attempts: int
        last_status: int | None
        last_error: str

    class ResendRequested(Event):
        event_type: ClassVar[str] = "SubscriptionResendRequested"
        message_id: str
        event_position: int

    def __init__(
        self, project_id: UUID, url: str, event_types: tuple[str, ...], sealed_secret: str
    ) -> None:
        self.project_id = project_id
        self.url = url
        self.event_types = tuple(event_types)
        self.sealed_secret = sealed_secret
        self.status = SubscriptionStatus.ENABLED
        self.disabled_reason = ""

    @classmethod
    def create(
        cls,
        *,
        id: UUID,
        project_id: UUID,
        url: str,
        event_types: tuple[str, ...],
        sealed_secret: str,
        at: datetime,
    ) -> Subscription:
        require_aware(at)
        if not sealed_secret.strip() or len(sealed_secret) > SEALED_SECRET_MAX:
            raise InvalidValue("sealed_secret", f"1 to {SEALED_SECRET_MAX} characters")
        return cls._create(
            cls.Created,
            id=id,
            timestamp=at,
            project_id=project_id,
            url=valid_url(url),
            event_types=valid_event_types(event_types),
            sealed_secret=sealed_secret,
        )

    def wants(self, event_type: str) -> bool:
        return wanted(self.event_types, event_type)

    def disable(self, *, reason: str, at: datetime) -> None:
        self._require(SubscriptionStatus.ENABLED, "disable")
        require_aware(at)
        self.trigger_event(self.Disabled, reason=_reason(reason), timestamp=at)

    def enable(self, *, at: datetime) -> None:
        self._require(SubscriptionStatus.DISABLED, "enable")
        require_aware(at)
        self.trigger_event(self.Enabled, timestamp=at)

    def delete(self, *, at: datetime) -> None:
        if self.status is SubscriptionStatus.DELETED:
            raise IllegalTransition("subscription", self.status.value, "delete")
        require_aware(at)
        self.trigger_event(self.Deleted, timestamp=at)

    def park(
        self,
        *,
        message_id: str,
        event_position: int,
        attempts: int,
        last_status: int | None,
        last_error: str,
        at: datetime,
    ) -> None:
        """Give up on one delivery after its retries; it stays re-sendable."""
        require_aware(at)
        fields = parked_fields(
            message_id=message_id, event_position=event_position, attempts=attempts,
            last_status=last_status, last_error=last_error, status_words="an HTTP status",
        )  # fmt: skip
        self.trigger_event(self.DeliveryParked, **fields, timestamp=at)

    def request_resend(self, *, message_id: str, event_position: int, at: datetime) -> None:
        if self.status is SubscriptionStatus.DELETED:
            raise IllegalTransition("subscription", self.status.value, "re-send to")
        require_aware(at)
        self.trigger_event(
            self.ResendRequested,
            message_id=valid_message_id(message_id),
            event_position=valid_position(event_position),
            timestamp=at,
        )

    def _require(self, status: SubscriptionStatus, attempted: str) -> None:
        if self.status is not status:
            raise IllegalTransition("subscription", self.status.value, attempted)


def wanted(patterns: tuple[str, ...], event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


def valid_url(url: str) -> str:
    """An absolute http(s) URL without credentials (events are kept forever and shown)."""
    url = url.strip()
    if not url or len(url) > URL_MAX or any(c.isspace() for c in clean("url", url)):
        raise InvalidValue("url", f"an http(s) URL of at most {URL_MAX} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise InvalidValue("url", "not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue("url", "must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidValue("url", "must not carry credentials: the secret signs deliveries")
    if parts.fragment:
        raise InvalidValue("url", "must not have a #fragment")
    return url


def valid_event_types(event_types: tuple[str, ...]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(event_types))
    if not 1 <= len(unique) <= EVENT_TYPES_MAX:
        raise InvalidValue("event_types", f"1 to {EVENT_TYPES_MAX} event types or globs")
    for pattern in unique:
        if not EVENT_PATTERN.fullmatch(pattern):
            raise InvalidValue(
                "event_types", f"{pattern[:40]!r}: an event type, a glob like Run*, or *"
            )
    return unique


def _reason(text: str) -> str:
    return cut(text.strip(), REASON_MAX)
