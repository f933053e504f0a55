"""Specs for an environment's rules: which refs may deploy, what gate it puts on a step."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.environment import Environment, environment_id
from domain.errors import InvalidValue

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def production(**rules: object) -> Environment:
    return Environment.configure(project_id=uuid4(), name="production", at=T0, **rules)


@pytest.mark.parametrize(
    ("ref", "allowed"),
    [
        ("refs/heads/main", True),
        ("main", True),
        ("refs/heads/release/1.2", True),
        ("refs/tags/v1.0", True),
        ("refs/heads/feature/x", False),
        ("refs/tags/nightly", False),
        (None, False),
    ],
)
def test_only_the_listed_branches_and_tags_may_deploy(ref: str | None, allowed: bool) -> None:
    environment = production(branches=("main", "release/*"), tags=("v*",))
    refusal = environment.refusal(ref)
    assert (refusal is None) == allowed
    if refusal:
        assert "may not deploy to environment 'production'" in refusal


def test_without_rules_any_ref_deploys_and_no_gate_holds_the_step() -> None:
    environment = production()
    assert environment.refusal(None) is None and environment.gate() is None


def test_the_gate_takes_its_approvers_or_else_the_steps() -> None:
    gate = production(required_approvals=2, approvers=("key:a", "key:b")).gate(("key:z",))
    assert gate is not None and gate.approvers == ("key:a", "key:b") and gate.required == 2
    gate = production(required_approvals=1).gate(("key:z",))
    assert gate is not None and gate.approvers == ("key:z",)


def test_the_id_comes_from_project_and_name_and_the_same_rules_decide_nothing() -> None:
    environment = production(required_approvals=1)
    assert environment.id == environment_id(environment.project_id, "production")
    environment.collect_events()
    environment.reconfigure(required_approvals=1, at=T0)
    assert environment.collect_events() == []
    environment.reconfigure(required_approvals=0, at=T0)
    assert [e.event_type for e in environment.collect_events()] == ["EnvironmentReconfigured"]


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"required_approvals": 11}, "required_approvals"),
        ({"required_approvals": 2, "approvers": ("key:a",)}, "required_approvals"),
        ({"approvers": ("alice",)}, "approvers"),
        ({"branches": ("refs/heads/main",)}, "rules.branches"),
        ({"tags": ("v[",)}, "rules.tags"),
        ({"approval_timeout_s": 0}, "approval_timeout_s"),
    ],
)
def test_broken_rules_are_refused_naming_the_field(rules: dict, field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        production(**rules)
    assert refused.value.field == field
