"""The NotificationRule aggregate: which happenings of a project are told to people, and where.

A rule names its triggers (a run failed, a run recovered, an approval waiting, a runner lost, an
operator's system notice), optional filters (one pipeline, one branch: they narrow the run
triggers only) and one channel: a Slack-compatible incoming webhook or e-mail over SMTP.
Credentials are never part of it (see domain/notification_channel.py).
Each delivery given up on after its retries is parked, each re-send asked for is recorded.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal, get_args
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.delivery_record import parked_fields, valid_message_id, valid_position
from domain.errors import IllegalTransition, InvalidValue
from domain.limits import NAME_MAX, REASON_MAX, clean, cut
from domain.moments import require_aware
from domain.notification_channel import Channel, valid_channel

Trigger = Literal["run_failed", "run_recovered", "approval_waiting", "runner_lost", "system_notice"]
TRIGGERS: tuple[str, ...] = get_args(Trigger)
RUN_TRIGGERS = frozenset({"run_failed", "run_recovered", "approval_waiting"})
"""The triggers a rule's pipeline and branch filters narrow (the others concern no run)."""
BRANCH_MAX = 255


class RuleStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"


class NotificationRule(Aggregate):
    stream_type = "notification_rule"

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        event_type: ClassVar[str] = "NotificationRuleCreated"
        project_id: UUID
        name: str
        triggers: tuple[Trigger, ...]
        pipeline_id: UUID | None
        branch: str | None
        channel: Channel

    class Changed(Event):
        event_type: ClassVar[str] = "NotificationRuleChanged"
        name: str
        triggers: tuple[Trigger, ...]
        pipeline_id: UUID | None
        branch: str | None
        channel: Channel

        def apply(self, aggregate: NotificationRule) -> None:
            aggregate.name, aggregate.triggers = self.name, self.triggers
            aggregate.pipeline_id, aggregate.branch = self.pipeline_id, self.branch
            aggregate.channel = self.channel

    class Disabled(Event):
        event_type: ClassVar[str] = "NotificationRuleDisabled"
        reason: str

        def apply(self, aggregate: NotificationRule) -> None:
            aggregate.status = RuleStatus.DISABLED

    class Enabled(Event):
        event_type: ClassVar[str] = "NotificationRuleEnabled"

        def apply(self, aggregate: NotificationRule) -> None:
            aggregate.status = RuleStatus.ENABLED

    class Deleted(Event):
        event_type: ClassVar[str] = "NotificationRuleDeleted"

        def apply(self, aggregate: NotificationRule) -> None:
            aggregate.status = RuleStatus.DELETED

    class Parked(Event):
        event_type: ClassVar[str] = "NotificationParked"
        message_id: str
        event_position: int
        attempts: int
        last_status: int | None
        last_error: str

    class ResendRequested(Event):
        event_type: ClassVar[str] = "NotificationResendRequested"
        message_id: str
        event_position: int

    def __init__(
        self,
        project_id: UUID,
        name: str,
        triggers: tuple[Trigger, ...],
        pipeline_id: UUID | None,
        branch: str | None,
        channel: Channel,
    ) -> None:
        self.project_id, self.name, self.triggers = project_id, name, tuple(triggers)
        self.pipeline_id, self.branch, self.channel = pipeline_id, branch, channel
        self.status = RuleStatus.ENABLED

    @classmethod
    def create(
        cls,
        *,
        id: UUID,
        project_id: UUID,
        name: str,
        triggers: tuple[str, ...],
        pipeline_id: UUID | None,
        branch: str | None,
        channel: Channel,
        at: datetime,
    ) -> NotificationRule:
        require_aware(at)
        return cls._create(
            cls.Created,
            id=id,
            timestamp=at,
            project_id=project_id,
            **_valid(name, triggers, branch, channel),
            pipeline_id=pipeline_id,
        )

    def change(
        self,
        *,
        name: str,
        triggers: tuple[str, ...],
        pipeline_id: UUID | None,
        branch: str | None,
        channel: Channel,
        at: datetime,
    ) -> None:
        if self.status is RuleStatus.DELETED:
            raise IllegalTransition("notification rule", self.status.value, "change")
        require_aware(at)
        valid = _valid(name, triggers, branch, channel)
        self.trigger_event(self.Changed, timestamp=at, pipeline_id=pipeline_id, **valid)

    def disable(self, *, reason: str, at: datetime) -> None:
        self._require(RuleStatus.ENABLED, "disable")
        require_aware(at)
        self.trigger_event(self.Disabled, reason=cut(reason.strip(), REASON_MAX), timestamp=at)

    def enable(self, *, at: datetime) -> None:
        self._require(RuleStatus.DISABLED, "enable")
        require_aware(at)
        self.trigger_event(self.Enabled, timestamp=at)

    def delete(self, *, at: datetime) -> None:
        if self.status is RuleStatus.DELETED:
            raise IllegalTransition("notification rule", self.status.value, "delete")
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
        """Give up on one notification after its retries; it stays re-sendable."""
        require_aware(at)
        fields = parked_fields(
            message_id=message_id, event_position=event_position, attempts=attempts,
            last_status=last_status, last_error=last_error, status_words="an HTTP or SMTP status",
        )  # fmt: skip
        self.trigger_event(self.Parked, **fields, timestamp=at)

    def request_resend(self, *, message_id: str, event_position: int, at: datetime) -> None:
        if self.status is RuleStatus.DELETED:
            raise IllegalTransition("notification rule", self.status.value, "re-send to")
        require_aware(at)
        self.trigger_event(
            self.ResendRequested,
            message_id=valid_message_id(message_id),
            event_position=valid_position(event_position),
            timestamp=at,
        )

    def _require(self, status: RuleStatus, attempted: str) -> None:
        if self.status is not status:
            raise IllegalTransition("notification rule", self.status.value, attempted)


def _valid(name: str, triggers: tuple[str, ...], branch: str | None, channel: Channel) -> dict:
    name = name.strip()
    if not 1 <= len(clean("name", name)) <= NAME_MAX:
        raise InvalidValue("name", f"1 to {NAME_MAX} characters")
    unique = tuple(dict.fromkeys(triggers))
    if not unique or any(t not in TRIGGERS for t in unique):
        raise InvalidValue("triggers", f"one or more of {list(TRIGGERS)}")
    if branch is not None and (
        not 1 <= len(branch) <= BRANCH_MAX or any(c.isspace() for c in clean("branch", branch))
    ):
        raise InvalidValue("branch", f"a branch name of 1 to {BRANCH_MAX} characters, no spaces")
    return {"name": name, "triggers": unique, "branch": branch, "channel": valid_channel(channel)}
