"""A project's approver group: a name that approval steps and environments list as
`group:<name>` among their approvers, and the principals it holds.

Membership is read when a person decides, not when the run was planned: removing someone
from a group stops them deciding on gates already waiting. Each change of members is one
event naming them all, so an auditor sees who could approve at any moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.approval_spec import check_approvers, check_environment_name
from domain.errors import InvalidValue
from domain.moments import require_aware

GROUP_NAMESPACE = UUID("8f1d3a52-6c47-5b09-b2e8-4e7a9c0d1f36")
"""Fixed forever: a group's id is derived from it, its project and its name."""
MEMBERS_MAX = 100
GROUP_PREFIX = "group:"


def group_id(project_id: UUID, name: str) -> UUID:
    return uuid5(GROUP_NAMESPACE, f"{project_id}/{name}")


def groups_in(approvers: tuple[str, ...]) -> tuple[str, ...]:
    """The group names an approvers list names (`group:<name>`), in its order."""
    return tuple(a.removeprefix(GROUP_PREFIX) for a in approvers if a.startswith(GROUP_PREFIX))


class ApproverGroup(Aggregate):
    """Created with its first members; each later set of members is one event."""

    stream_type = "approver_group"

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        event_type: ClassVar[str] = "ApproverGroupCreated"
        project_id: UUID
        name: str
        members: tuple[str, ...]

    class MembersSet(Event):
        event_type: ClassVar[str] = "ApproverGroupMembersSet"
        members: tuple[str, ...]

        def apply(self, aggregate: ApproverGroup) -> None:
            aggregate.members = self.members

    def __init__(self, project_id: UUID, name: str, members: tuple[str, ...]) -> None:
        self.project_id = project_id
        self.name = name
        self.members = members

    @classmethod
    def create(
        cls, *, project_id: UUID, name: str, members: tuple[str, ...], at: datetime
    ) -> ApproverGroup:
        require_aware(at)
        check_environment_name(name, "name")
        return cls._create(
            cls.Created,
            id=group_id(project_id, name),
            timestamp=at,
            project_id=project_id,
            name=name,
            members=_valid_members(members),
        )

    def set_members(self, members: tuple[str, ...], *, at: datetime) -> None:
        """The group's members from now on; the same members again decide nothing."""
        require_aware(at)
        members = _valid_members(members)
        if members != self.members:
            self.trigger_event(self.MembersSet, members=members, timestamp=at)

    def admits(self, principal: str) -> bool:
        return principal in self.members


def _valid_members(members: tuple[str, ...]) -> tuple[str, ...]:
    members = tuple(members)
    if len(members) > MEMBERS_MAX:
        raise InvalidValue("members", f"at most {MEMBERS_MAX} members")
    if any(m.startswith(GROUP_PREFIX) for m in members):
        raise InvalidValue("members", "a group holds principals, not other groups")
    check_approvers(members, "members", limit=MEMBERS_MAX)
    return members
