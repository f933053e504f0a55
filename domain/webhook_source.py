"""The WebhookSource aggregate: a project's GitHub, GitLab, Jenkins or generic integration."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Literal, get_args
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import IllegalTransition, InvalidValue
from domain.limits import GRACE_MAX_S
from domain.moments import require_aware

Kind = Literal["github", "gitlab", "jenkins", "generic"]
KINDS: tuple[str, ...] = get_args(Kind)
SEALED_SECRET_MAX = 1024
REASON_MAX = 1000
ROTATION_GRACE = timedelta(hours=24)
"""The usual grace period for a rotated secret; the caller chooses."""
ROTATION_GRACE_MAX = timedelta(seconds=GRACE_MAX_S)
RetireReason = Literal["grace_period_over", "rotated_again"]
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class WebhookSourceStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class WebhookSource(Aggregate):
    """Registered for one project with a secret; the secret rotated; disabled and enabled again.

    Events are kept forever, so a secret only ever reaches the domain sealed: `sealed_secret`
    is opaque ciphertext made by the command side's port, never the secret in clear.
    A rotation keeps the previous secret valid until `previous_valid_until`, so senders can
    be updated; once that is past, the previous secret is retired (its kept value deleted).
    Only the immediately previous secret is kept: rotating again retires the older one at
    once, so stacking rotations never keeps a leaked secret alive. A disabled source may
    rotate its secret (what one does after a leak, before enabling it again) but accepts no
    secret until enabled.
    """

    stream_type = "webhook_source"

    class Event(Aggregate.Event):
        pass

    class Registered(Event, Aggregate.Created):
        event_type: ClassVar[str] = "WebhookSourceRegistered"
        project_id: UUID
        kind: Kind
        name: str
        sealed_secret: str

    class SecretRotated(Event):
        event_type: ClassVar[str] = "WebhookSecretRotated"
        sealed_secret: str
        previous_sealed_secret: str
        previous_valid_until: datetime

        def apply(self, aggregate: WebhookSource) -> None:
            aggregate.sealed_secret = self.sealed_secret
            aggregate.previous_sealed_secret = self.previous_sealed_secret
            aggregate.previous_valid_until = self.previous_valid_until

    class PreviousSecretRetired(Event):
        """The secret a rotation replaced is accepted no more and its kept value was deleted;
        `sealed_secret` is the reference the rotation recorded, `reason` why it went."""

        event_type: ClassVar[str] = "WebhookPreviousSecretRetired"
        sealed_secret: str
        reason: RetireReason

        def apply(self, aggregate: WebhookSource) -> None:
            aggregate.previous_sealed_secret = None
            aggregate.previous_valid_until = None

    class Disabled(Event):
        event_type: ClassVar[str] = "WebhookSourceDisabled"
        reason: str

        def apply(self, aggregate: WebhookSource) -> None:
            aggregate.status = WebhookSourceStatus.DISABLED
            aggregate.disabled_reason = self.reason

    class Enabled(Event):
        event_type: ClassVar[str] = "WebhookSourceEnabled"

        def apply(self, aggregate: WebhookSource) -> None:
            aggregate.status = WebhookSourceStatus.ENABLED
            aggregate.disabled_reason = ""

    def __init__(self, project_id: UUID, kind: Kind, name: str, sealed_secret: str) -> None:
        # Runs for `Registered`, on creation and on every replay: assignments only.
        self.project_id = project_id
        self.kind = kind
        self.name = name
        self.sealed_secret = sealed_secret
        self.previous_sealed_secret: str | None = None
        self.previous_valid_until: datetime | None = None
        self.status = WebhookSourceStatus.ENABLED
        self.disabled_reason = ""

    @classmethod
    def create(
        cls, *, id: UUID, project_id: UUID, kind: str, name: str, sealed_secret: str, at: datetime
    ) -> WebhookSource:
        """Register an enabled source; `name` is a slug (its uniqueness is a projection's job)."""
        require_aware(at)
        if kind not in KINDS:
            raise InvalidValue("kind", f"one of {list(KINDS)}")
        if not _SLUG.fullmatch(name):
            raise InvalidValue(
                "name", "1-63 lowercase letters, digits or '-', not starting or ending with '-'"
            )
        return cls._create(
            cls.Registered,
            id=id,
            timestamp=at,
            project_id=project_id,
            kind=kind,
            name=name,
            sealed_secret=_valid_sealed(sealed_secret),
        )

    def rotate_secret(
        self, sealed_secret: str, *, grace: timedelta = ROTATION_GRACE, at: datetime
    ) -> str | None:
        """Replace the secret; the current one stays valid for `grace` (zero: cut over now).
        The secret before it, if still kept, is retired first: its reference, to delete."""
        require_aware(at)
        sealed_secret = _valid_sealed(sealed_secret)
        if sealed_secret == self.sealed_secret:
            raise InvalidValue("sealed_secret", "must differ from the current secret")
        if not timedelta(0) <= grace <= ROTATION_GRACE_MAX:
            raise InvalidValue("grace", f"between 0 and {ROTATION_GRACE_MAX}")
        retired, until = self.previous_sealed_secret, self.previous_valid_until
        if retired is not None and until is not None:
            reason = "grace_period_over" if at >= until else "rotated_again"
            self.trigger_event(
                self.PreviousSecretRetired, sealed_secret=retired, reason=reason, timestamp=at
            )
        self.trigger_event(
            self.SecretRotated,
            sealed_secret=sealed_secret,
            previous_sealed_secret=self.sealed_secret,
            previous_valid_until=at + grace,
            timestamp=at,
        )
        return retired

    def retire_previous_secret(self, *, at: datetime) -> str:
        """Record that the secret before the last rotation, its grace period over, goes; the
        reference to delete its kept value by."""
        require_aware(at)
        sealed, until = self.previous_sealed_secret, self.previous_valid_until
        if sealed is None or until is None:
            raise IllegalTransition("webhook source", "without a previous secret", "retire")
        if at < until:
            raise IllegalTransition("webhook source", "in its rotation's grace period", "retire")
        self.trigger_event(
            self.PreviousSecretRetired,
            sealed_secret=sealed,
            reason="grace_period_over",
            timestamp=at,
        )
        return sealed

    def disable(self, *, reason: str = "", at: datetime) -> None:
        self._require(WebhookSourceStatus.ENABLED, "disable")
        require_aware(at)
        reason = reason.strip()
        if len(reason) > REASON_MAX:
            raise InvalidValue("reason", f"at most {REASON_MAX} characters")
        self.trigger_event(self.Disabled, reason=reason, timestamp=at)

    def enable(self, *, at: datetime) -> None:
        self._require(WebhookSourceStatus.DISABLED, "enable")
        require_aware(at)
        self.trigger_event(self.Enabled, timestamp=at)

    def accepted_secrets(self, now: datetime) -> tuple[str, ...]:
        """The sealed secrets a delivery may be signed with at `now`, current one first."""
        require_aware(now, "now")
        if self.status is not WebhookSourceStatus.ENABLED:
            return ()
        if self.previous_sealed_secret is None or self.previous_valid_until is None:
            return (self.sealed_secret,)
        if now < self.previous_valid_until:
            return (self.sealed_secret, self.previous_sealed_secret)
        return (self.sealed_secret,)

    def _require(self, status: WebhookSourceStatus, attempted: str) -> None:
        if self.status is not status:
            raise IllegalTransition("webhook source", self.status.value, attempted)


def _valid_sealed(sealed_secret: str) -> str:
    if not sealed_secret.strip():
        raise InvalidValue("sealed_secret", "must not be blank")
    if len(sealed_secret) > SEALED_SECRET_MAX:
        raise InvalidValue("sealed_secret", f"at most {SEALED_SECRET_MAX} characters")
    return sealed_secret
