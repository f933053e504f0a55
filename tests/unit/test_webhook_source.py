"""Specs for the WebhookSource aggregate: given past events, when a command, then an outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from specs import Spec

from domain.api_key import ApiKey
from domain.errors import IllegalTransition, InvalidValue
from domain.project import Project
from domain.registry import Registry
from domain.webhook_source import WebhookSource, WebhookSourceStatus

REGISTRY = Registry(Project, ApiKey, WebhookSource)
ID = UUID("0195f1d0-0000-7000-8000-0000000000c1")
PROJECT = UUID("0195f1d0-0000-7000-8000-0000000000c2")
T0 = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
DAY = timedelta(hours=24)
S1, S2, S3 = "c2VhbGVkLTE=", "c2VhbGVkLTI=", "c2VhbGVkLTM="

REGISTERED = (
    "WebhookSourceRegistered",
    {
        "project_id": PROJECT,
        "kind": "github",
        "name": "web-repo",
        "sealed_secret": S1,
        "occurred_at": T0,
    },
)
ROTATED = (
    "WebhookSecretRotated",
    {
        "sealed_secret": S2,
        "previous_sealed_secret": S1,
        "previous_valid_until": T1 + DAY,
        "occurred_at": T1,
    },
)
DISABLED = ("WebhookSourceDisabled", {"reason": "leaked", "occurred_at": T1})
ENABLED = ("WebhookSourceEnabled", {"occurred_at": T2})


def doing(act: Callable[[Any], object]) -> Callable[[Any], None]:
    """`act` on the given source; what it returns (a retired secret) is not a new aggregate."""

    def command(source: Any) -> None:
        act(source)

    return command


def spec() -> Spec[WebhookSource]:
    return Spec(WebhookSource, ID, registry=REGISTRY)


def register(**overrides: Any):
    args = {
        "id": ID,
        "project_id": PROJECT,
        "kind": "github",
        "name": "web-repo",
        "sealed_secret": S1,
        "at": T0,
    } | overrides
    return lambda _: WebhookSource.create(**args)


@pytest.mark.parametrize("kind", ["github", "gitlab", "jenkins", "generic"])
def test_registering_a_source_of_each_kind(kind: str) -> None:
    source = (
        spec()
        .given()
        .when(register(kind=kind))
        .then(("WebhookSourceRegistered", REGISTERED[1] | {"kind": kind}))
    )
    assert (source.id, source.version, source.status) == (ID, 1, WebhookSourceStatus.ENABLED)
    assert (source.project_id, source.kind, source.name) == (PROJECT, kind, "web-repo")
    assert source.accepted_secrets(T0) == (S1,)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "bitbucket"}, "kind"),
        ({"kind": "GitHub"}, "kind"),
        ({"name": "Web-Repo"}, "name"),
        ({"name": "-web"}, "name"),
        ({"name": "web repo"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "w" * 64}, "name"),
        ({"sealed_secret": ""}, "sealed_secret"),
        ({"sealed_secret": "  "}, "sealed_secret"),
        ({"sealed_secret": "s" * 1025}, "sealed_secret"),
        ({"at": datetime(2025, 3, 1)}, "at"),
    ],
)
def test_registering_with_an_invalid_value_is_refused(overrides: dict, field: str) -> None:
    spec().given().when(register(**overrides)).then_raises(InvalidValue, field=field)


def test_rotating_the_secret_keeps_the_previous_one_for_a_day_by_default() -> None:
    source = spec().given(REGISTERED).when(lambda s: s.rotate_secret(S2, at=T1)).then(ROTATED)
    assert (source.sealed_secret, source.previous_sealed_secret) == (S2, S1)
    assert (source.previous_valid_until, source.version) == (T1 + DAY, 2)


@pytest.mark.parametrize("grace", [timedelta(0), timedelta(minutes=10), timedelta(days=30)])
def test_rotating_with_a_grace_chosen_by_the_caller(grace: timedelta) -> None:
    spec().given(REGISTERED).when(lambda s: s.rotate_secret(S2, grace=grace, at=T1)).then(
        ("WebhookSecretRotated", ROTATED[1] | {"previous_valid_until": T1 + grace})
    )


def test_rotating_again_drops_the_older_secret_at_once() -> None:
    source = (
        spec()
        .given(REGISTERED, ROTATED)
        .when(doing(lambda s: s.rotate_secret(S3, at=T2)))
        .then(
            (
                "WebhookPreviousSecretRetired",
                {"sealed_secret": S1, "reason": "rotated_again", "occurred_at": T2},
            ),
            (
                "WebhookSecretRotated",
                {
                    "sealed_secret": S3,
                    "previous_sealed_secret": S2,
                    "previous_valid_until": T2 + DAY,
                    "occurred_at": T2,
                },
            ),
        )
    )
    assert source.accepted_secrets(T2) == (S3, S2)


def test_rotating_after_the_grace_period_retires_the_previous_secret_for_that_reason() -> None:
    later = T1 + DAY
    source = spec().given(REGISTERED, ROTATED).when(doing(lambda s: s.rotate_secret(S3, at=later)))
    assert source.then(
        (
            "WebhookPreviousSecretRetired",
            {"sealed_secret": S1, "reason": "grace_period_over", "occurred_at": later},
        ),
        (
            "WebhookSecretRotated",
            {
                "sealed_secret": S3,
                "previous_sealed_secret": S2,
                "previous_valid_until": later + DAY,
                "occurred_at": later,
            },
        ),
    ).accepted_secrets(later) == (S3, S2)


def test_the_previous_secret_is_retired_once_its_grace_period_is_over() -> None:
    at = T1 + DAY
    source = (
        spec()
        .given(REGISTERED, ROTATED)
        .when(doing(lambda s: s.retire_previous_secret(at=at)))
        .then(
            (
                "WebhookPreviousSecretRetired",
                {"sealed_secret": S1, "reason": "grace_period_over", "occurred_at": at},
            )
        )
    )
    assert (source.previous_sealed_secret, source.previous_valid_until) == (None, None)
    assert source.accepted_secrets(at) == (S2,)


@pytest.mark.parametrize(
    ("given", "at"),
    [
        ((REGISTERED, ROTATED), T1 + DAY - timedelta(microseconds=1)),
        ((REGISTERED,), T2),
    ],
)
def test_a_previous_secret_in_its_grace_period_or_none_at_all_is_not_retired(
    given: tuple, at: datetime
) -> None:
    spec().given(*given).when(doing(lambda s: s.retire_previous_secret(at=at))).then_raises(
        IllegalTransition
    )


def test_rotating_the_secret_of_a_disabled_source_is_allowed() -> None:
    source = (
        spec()
        .given(REGISTERED, DISABLED)
        .when(lambda s: s.rotate_secret(S2, grace=timedelta(0), at=T2))
        .then(
            (
                "WebhookSecretRotated",
                {
                    "sealed_secret": S2,
                    "previous_sealed_secret": S1,
                    "previous_valid_until": T2,
                    "occurred_at": T2,
                },
            )
        )
    )
    assert source.status is WebhookSourceStatus.DISABLED


@pytest.mark.parametrize(
    ("sealed", "kwargs", "field"),
    [
        (S1, {}, "sealed_secret"),
        ("", {}, "sealed_secret"),
        ("s" * 1025, {}, "sealed_secret"),
        (S2, {"grace": timedelta(seconds=-1)}, "grace"),
        (S2, {"grace": timedelta(days=30, seconds=1)}, "grace"),
        (S2, {"at": datetime(2025, 3, 2)}, "at"),
    ],
)
def test_rotating_with_an_invalid_value_is_refused(
    sealed: str, kwargs: dict[str, Any], field: str
) -> None:
    args = {"at": T1} | kwargs
    spec().given(REGISTERED).when(lambda s: s.rotate_secret(sealed, **args)).then_raises(
        InvalidValue, field=field
    )


def test_disabling_an_enabled_source() -> None:
    source = (
        spec().given(REGISTERED).when(lambda s: s.disable(reason=" leaked ", at=T1)).then(DISABLED)
    )
    assert (source.status, source.disabled_reason) == (WebhookSourceStatus.DISABLED, "leaked")


def test_disabling_without_a_reason() -> None:
    spec().given(REGISTERED).when(lambda s: s.disable(at=T1)).then(
        ("WebhookSourceDisabled", {"reason": "", "occurred_at": T1})
    )


def test_enabling_a_disabled_source() -> None:
    source = spec().given(REGISTERED, DISABLED).when(lambda s: s.enable(at=T2)).then(ENABLED)
    assert (source.status, source.disabled_reason) == (WebhookSourceStatus.ENABLED, "")


def test_disabling_a_re_enabled_source() -> None:
    spec().given(REGISTERED, DISABLED, ENABLED).when(lambda s: s.disable(at=T2)).then(
        ("WebhookSourceDisabled", {"reason": "", "occurred_at": T2})
    )


@pytest.mark.parametrize(
    ("given", "attempted", "current_state"),
    [
        ((REGISTERED,), "enable", "enabled"),
        ((REGISTERED, ROTATED), "enable", "enabled"),
        ((REGISTERED, DISABLED, ENABLED), "enable", "enabled"),
        ((REGISTERED, DISABLED), "disable", "disabled"),
        ((REGISTERED, DISABLED, ROTATED), "disable", "disabled"),
    ],
)
def test_an_illegal_transition_is_refused(given: tuple, attempted: str, current_state: str) -> None:
    error = (
        spec()
        .given(*given)
        .when(lambda s: getattr(s, attempted)(at=T2))
        .then_raises(IllegalTransition, current_state=current_state, attempted=attempted)
    )
    assert str(error) == f"cannot {attempted} a webhook source that is {current_state}"


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda s: s.disable(reason="x" * 1001, at=T1), "reason"),
        (lambda s: s.disable(at=datetime(2025, 3, 2)), "at"),
    ],
)
def test_disabling_with_an_invalid_value_is_refused(command: Any, field: str) -> None:
    spec().given(REGISTERED).when(command).then_raises(InvalidValue, field=field)


def test_enabling_with_a_naive_time_is_refused() -> None:
    spec().given(REGISTERED, DISABLED).when(
        lambda s: s.enable(at=datetime(2025, 3, 2))
    ).then_raises(InvalidValue, field="at")


def source(*facts: tuple[str, dict[str, Any]]) -> WebhookSource:
    state = spec().given(REGISTERED, *facts).state
    assert state is not None
    return state


@pytest.mark.parametrize(
    ("facts", "now", "accepted"),
    [
        ((), T0 + timedelta(days=400), (S1,)),
        ((ROTATED,), T1, (S2, S1)),
        ((ROTATED,), T1 + DAY - timedelta(microseconds=1), (S2, S1)),
        ((ROTATED,), T1 + DAY, (S2,)),
        ((ROTATED,), T1 + DAY * 2, (S2,)),
        ((DISABLED,), T1, ()),
        ((ROTATED, DISABLED), T1, ()),
        ((ROTATED, DISABLED, ENABLED), T2, (S2, S1)),
        ((ROTATED, DISABLED, ENABLED), T1 + DAY, (S2,)),
    ],
)
def test_the_secrets_a_source_accepts(facts: tuple, now: datetime, accepted: tuple) -> None:
    assert source(*facts).accepted_secrets(now) == accepted


def test_a_zero_grace_rotation_accepts_only_the_new_secret_at_once() -> None:
    rotated = source()
    rotated.rotate_secret(S2, grace=timedelta(0), at=T1)
    assert rotated.accepted_secrets(T1) == (S2,)


def test_asking_with_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidValue) as caught:
        source().accepted_secrets(datetime(2025, 3, 1))
    assert caught.value.field == "now"
