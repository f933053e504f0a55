"""The ApproverGroup aggregate and where approvers lists may name a group."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.approval_spec import check_approvers
from domain.approver_group import ApproverGroup, group_id, groups_in
from domain.environment import Environment
from domain.errors import InvalidValue

AT = datetime(2026, 5, 1, tzinfo=UTC)
PROJECT = uuid4()


def test_a_group_is_one_stream_per_project_and_name_and_repeats_decide_nothing() -> None:
    group = ApproverGroup.create(project_id=PROJECT, name="release", members=("key:a",), at=AT)
    assert group.id == group_id(PROJECT, "release") != group_id(uuid4(), "release")
    group.set_members(("key:a",), at=AT)
    group.set_members(("key:b", "jwt:carol"), at=AT)
    events = group.collect_events()
    assert [type(e).__name__ for e in events] == ["Created", "MembersSet"]
    assert group.admits("jwt:carol") and not group.admits("key:a")


@pytest.mark.parametrize(
    "members",
    [
        ("alice",),
        ("key:a", "key:a"),
        ("group:other",),
        ("key:",),
        tuple(f"key:{i}" for i in range(101)),
    ],
)
def test_members_are_principals_each_once(members: tuple[str, ...]) -> None:
    with pytest.raises(InvalidValue) as refused:
        ApproverGroup.create(project_id=PROJECT, name="release", members=members, at=AT)
    assert refused.value.field == "members"


def test_a_group_name_follows_the_environment_name_rule() -> None:
    with pytest.raises(InvalidValue):
        ApproverGroup.create(project_id=PROJECT, name="no spaces", members=(), at=AT)


def test_approvers_may_name_groups() -> None:
    check_approvers(("group:release", "key:a"), "approvers")
    assert groups_in(("key:a", "group:release", "group:ops")) == ("release", "ops")
    for bad in ("group:", "group:a b", "team:x"):
        with pytest.raises(InvalidValue):
            check_approvers((bad,), "approvers")


def test_an_environment_may_require_more_approvals_than_it_lists_when_a_group_is_listed() -> None:
    environment = Environment.configure(
        project_id=PROJECT, name="prod", required_approvals=2, approvers=("group:sre",), at=AT
    )
    assert environment.required_approvals == 2
    with pytest.raises(InvalidValue):
        Environment.configure(
            project_id=PROJECT, name="prod", required_approvals=2, approvers=("key:a",), at=AT
        )
