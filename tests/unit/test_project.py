"""Specs for the Project aggregate: given past events, when a command, then events or an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from specs import Spec

from domain.errors import IllegalTransition, InvalidValue
from domain.project import Project, ProjectStatus

ID = UUID("0195f1d0-0000-7000-8000-000000000001")
T0 = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
T2 = T0 + timedelta(hours=1)

CREATED = ("ProjectCreated", {"name": "Web", "slug": "web", "description": "", "occurred_at": T0})
ARCHIVED = ("ProjectArchived", {"occurred_at": T1})


def spec() -> Spec[Project]:
    return Spec(Project, ID)


def create(**overrides: object):
    args = {"id": ID, "name": "Web", "slug": "web", "at": T0} | overrides
    return lambda _: Project.create(**args)


def test_creating_a_project_records_the_callers_id_time_and_trimmed_text() -> None:
    project = (
        spec()
        .given()
        .when(create(name="  Web  ", description=" Storefront "))
        .then(
            (
                "ProjectCreated",
                {"name": "Web", "slug": "web", "description": "Storefront", "occurred_at": T0},
            )
        )
    )
    assert (project.id, project.version, project.status) == (ID, 1, ProjectStatus.ACTIVE)
    assert project.created_on == project.modified_on == T0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"slug": "Web"}, "slug"),
        ({"slug": "-web"}, "slug"),
        ({"slug": ""}, "slug"),
        ({"slug": "w" * 64}, "slug"),
        ({"description": "x" * 4001}, "description"),
        ({"at": datetime(2025, 3, 1)}, "at"),
    ],
)
def test_creating_with_an_invalid_value_is_refused(overrides: dict, field: str) -> None:
    spec().given().when(create(**overrides)).then_raises(InvalidValue, field=field)


def test_renaming_an_active_project() -> None:
    project = (
        spec()
        .given(CREATED)
        .when(lambda p: p.rename(" Web shop ", at=T1))
        .then(("ProjectRenamed", {"name": "Web shop", "occurred_at": T1}))
    )
    assert (project.name, project.version, project.modified_on) == ("Web shop", 2, T1)
    assert project.created_on == T0


def test_renaming_to_the_current_name_decides_nothing() -> None:
    spec().given(CREATED).when(lambda p: p.rename("Web", at=T1)).then()


def test_renaming_to_a_blank_name_is_refused() -> None:
    spec().given(CREATED).when(lambda p: p.rename(" ", at=T1)).then_raises(
        InvalidValue, field="name"
    )


def test_archiving_an_active_project() -> None:
    project = (
        spec()
        .given(CREATED, ("ProjectRenamed", {"name": "Shop", "occurred_at": T1}))
        .when(lambda p: p.archive(at=T2))
        .then(("ProjectArchived", {"occurred_at": T2}))
    )
    assert (project.status, project.name, project.modified_on) == (
        ProjectStatus.ARCHIVED,
        "Shop",
        T2,
    )


def test_renaming_an_archived_project_is_an_illegal_transition() -> None:
    error = (
        spec()
        .given(CREATED, ARCHIVED)
        .when(lambda p: p.rename("Other", at=T2))
        .then_raises(IllegalTransition, current_state="archived", attempted="rename")
    )
    assert str(error) == "cannot rename a project that is archived"


def test_archiving_an_archived_project_is_an_illegal_transition() -> None:
    spec().given(CREATED, ARCHIVED).when(lambda p: p.archive(at=T2)).then_raises(
        IllegalTransition, current_state="archived", attempted="archive"
    )


def test_a_command_with_a_naive_time_is_refused() -> None:
    spec().given(CREATED).when(lambda p: p.archive(at=datetime(2025, 3, 2))).then_raises(
        InvalidValue, field="at"
    )


def test_setting_a_default_queue_timeout_records_it_with_why() -> None:
    project = (
        spec()
        .given(CREATED)
        .when(lambda p: p.set_queue_timeout(600, reason=" no idle jobs ", at=T1))
        .then(
            (
                "ProjectQueueTimeoutSet",
                {"default_queue_timeout_s": 600, "reason": "no idle jobs", "occurred_at": T1},
            )
        )
    )
    assert project.default_queue_timeout_s == 600


def test_clearing_the_default_queue_timeout_and_setting_the_same_value_again() -> None:
    set_600 = (
        "ProjectQueueTimeoutSet",
        {"default_queue_timeout_s": 600, "reason": "", "occurred_at": T1},
    )
    spec().given(CREATED, set_600).when(
        lambda p: p.set_queue_timeout(600, reason="again", at=T2)
    ).then()
    cleared = (
        spec()
        .given(CREATED, set_600)
        .when(lambda p: p.set_queue_timeout(None, reason="", at=T2))
        .then(
            (
                "ProjectQueueTimeoutSet",
                {"default_queue_timeout_s": None, "reason": "", "occurred_at": T2},
            )
        )
    )
    assert cleared.default_queue_timeout_s is None
    spec().given(CREATED).when(lambda p: p.set_queue_timeout(None, reason="", at=T1)).then()


@pytest.mark.parametrize(("seconds", "reason", "field"), [
    (0, "", "default_queue_timeout_s"),
    (86_401, "", "default_queue_timeout_s"),
    (-1, "", "default_queue_timeout_s"),
    (60, "x" * 4001, "reason"),
])  # fmt: skip
def test_an_invalid_default_queue_timeout_is_refused(seconds: int, reason: str, field: str) -> None:
    spec().given(CREATED).when(
        lambda p: p.set_queue_timeout(seconds, reason=reason, at=T1)
    ).then_raises(InvalidValue, field=field)


def test_an_archived_project_takes_no_queue_timeout() -> None:
    spec().given(CREATED, ARCHIVED).when(
        lambda p: p.set_queue_timeout(60, reason="", at=T2)
    ).then_raises(IllegalTransition, current_state="archived")
