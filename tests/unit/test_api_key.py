"""Specs for the ApiKey aggregate: given past events, when a command, then events or an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from specs import Spec

from domain.api_key import ApiKey, ApiKeyStatus
from domain.errors import InvalidValue
from domain.project import Project
from domain.registry import Registry
from domain.webhook_source import WebhookSource

REGISTRY = Registry(Project, ApiKey, WebhookSource)
ID = UUID("0195f1d0-0000-7000-8000-0000000000b1")
PROJECT = UUID("0195f1d0-0000-7000-8000-0000000000b2")
OTHER_PROJECT = UUID("0195f1d0-0000-7000-8000-0000000000b3")
HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PREFIX = f"flk_{ID.hex}"
T0 = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
T2 = T0 + timedelta(hours=1)
EXPIRY = T0 + timedelta(days=30)


def issued(**overrides: Any) -> tuple[str, dict[str, Any]]:
    data = {
        "name": "CI bot",
        "project_id": PROJECT,
        "scopes": ("read", "write"),
        "secret_hash": HASH,
        "prefix": PREFIX,
        "expires_at": None,
        "issued_by": "alice",
        "occurred_at": T0,
    }
    return "ApiKeyIssued", data | overrides


ISSUED = issued()
REVOKED = ("ApiKeyRevoked", {"reason": "leaked", "revoked_by": "bob", "occurred_at": T1})


def spec() -> Spec[ApiKey]:
    return Spec(ApiKey, ID, registry=REGISTRY)


def issue(**overrides: Any):
    args = {
        "id": ID,
        "name": "CI bot",
        "project_id": PROJECT,
        "scopes": ["read", "write"],
        "secret_hash": HASH,
        "prefix": PREFIX,
        "issued_by": "alice",
        "at": T0,
    } | overrides
    return lambda _: ApiKey.create(**args)


def test_issuing_a_key_records_its_grant_and_only_the_hash_of_its_secret() -> None:
    key = (
        spec()
        .given()
        .when(issue(name="  CI bot ", scopes=["write", "read", "write"], issued_by=" alice "))
        .then(ISSUED)
    )
    assert (key.id, key.version, key.status) == (ID, 1, ApiKeyStatus.ACTIVE)
    assert (key.scopes, key.project_id, key.expires_at) == (("read", "write"), PROJECT, None)
    assert key.created_on == T0


def test_issuing_a_key_for_all_projects_that_expires() -> None:
    key = (
        spec()
        .given()
        .when(issue(project_id=None, scopes=("audit", "admin"), expires_at=EXPIRY))
        .then(issued(project_id=None, scopes=("admin", "audit"), expires_at=EXPIRY))
    )
    assert (key.project_id, key.expires_at) == (None, EXPIRY)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["read", "owner"]}, "scopes"),
        ({"scopes": ["READ"]}, "scopes"),
        ({"scopes": "read"}, "scopes"),
        ({"secret_hash": ""}, "secret_hash"),
        ({"secret_hash": "ab cd"}, "secret_hash"),
        ({"secret_hash": "é" * 64}, "secret_hash"),
        ({"secret_hash": "a" * 201}, "secret_hash"),
        ({"prefix": ""}, "prefix"),
        ({"prefix": "p" * 65}, "prefix"),
        ({"expires_at": datetime(2025, 4, 1)}, "expires_at"),
        ({"expires_at": T0}, "expires_at"),
        ({"expires_at": T0 - timedelta(seconds=1)}, "expires_at"),
        ({"issued_by": " "}, "issued_by"),
        ({"issued_by": "x" * 201}, "issued_by"),
        ({"at": datetime(2025, 3, 1)}, "at"),
    ],
)
def test_issuing_with_an_invalid_value_is_refused(overrides: dict, field: str) -> None:
    spec().given().when(issue(**overrides)).then_raises(InvalidValue, field=field)


def test_revoking_an_active_key() -> None:
    key = (
        spec()
        .given(ISSUED)
        .when(lambda k: k.revoke(reason=" leaked ", revoked_by=" bob ", at=T1))
        .then(REVOKED)
    )
    assert (key.status, key.revoked_reason, key.revoked_by, key.revoked_at) == (
        ApiKeyStatus.REVOKED,
        "leaked",
        "bob",
        T1,
    )
    assert key.version == 2


def test_revoking_without_a_reason() -> None:
    spec().given(ISSUED).when(lambda k: k.revoke(revoked_by="bob", at=T1)).then(
        ("ApiKeyRevoked", {"reason": "", "revoked_by": "bob", "occurred_at": T1})
    )


def test_revoking_an_expired_key_is_still_recorded() -> None:
    spec().given(issued(expires_at=T1)).when(
        lambda k: k.revoke(reason="leaked", revoked_by="bob", at=T2)
    ).then(("ApiKeyRevoked", {"reason": "leaked", "revoked_by": "bob", "occurred_at": T2}))


def test_revoking_a_revoked_key_decides_nothing_and_keeps_the_first_revocation() -> None:
    key = (
        spec()
        .given(ISSUED, REVOKED)
        .when(lambda k: k.revoke(reason="again", revoked_by="carol", at=T2))
        .then()
    )
    assert (key.revoked_reason, key.revoked_by, key.revoked_at) == ("leaked", "bob", T1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"revoked_by": " "}, "revoked_by"),
        ({"reason": "x" * 1001}, "reason"),
        ({"at": datetime(2025, 3, 2)}, "at"),
    ],
)
@pytest.mark.parametrize("given", [(ISSUED,), (ISSUED, REVOKED)], ids=["active", "revoked"])
def test_revoking_with_an_invalid_value_is_refused(
    given: tuple, kwargs: dict[str, Any], field: str
) -> None:
    args = {"reason": "r", "revoked_by": "bob", "at": T2} | kwargs
    spec().given(*given).when(lambda k: k.revoke(**args)).then_raises(InvalidValue, field=field)


def key(*revocation: tuple[str, dict[str, Any]], **overrides: Any) -> ApiKey:
    state = spec().given(issued(**overrides), *revocation).state
    assert state is not None
    return state


ALL = ("read", "write", "admin", "runner", "audit")
PROJECT_READER = key(scopes=("read",))
PROJECT_ADMIN = key(scopes=("admin",))
GLOBAL_RUNNER = key(project_id=None, scopes=("runner",))
GLOBAL_ADMIN = key(project_id=None, scopes=("admin",))
EXPIRING_READER = key(scopes=("read",), expires_at=T2)
REVOKED_ADMIN = key(REVOKED, project_id=None, scopes=("admin",))


@pytest.mark.parametrize(
    ("api_key", "scope", "project_id", "now", "allowed"),
    [
        (PROJECT_READER, "read", PROJECT, T1, True),
        (PROJECT_READER, "write", PROJECT, T1, False),
        (PROJECT_READER, "admin", PROJECT, T1, False),
        (PROJECT_READER, "read", OTHER_PROJECT, T1, False),
        (PROJECT_READER, "read", None, T1, False),
        *((PROJECT_ADMIN, scope, PROJECT, T1, True) for scope in ALL),
        (PROJECT_ADMIN, "read", OTHER_PROJECT, T1, False),
        (PROJECT_ADMIN, "admin", None, T1, False),
        (GLOBAL_RUNNER, "runner", PROJECT, T1, True),
        (GLOBAL_RUNNER, "runner", OTHER_PROJECT, T1, True),
        (GLOBAL_RUNNER, "runner", None, T1, True),
        (GLOBAL_RUNNER, "read", PROJECT, T1, False),
        *((GLOBAL_ADMIN, scope, OTHER_PROJECT, T1, True) for scope in ALL),
        (GLOBAL_ADMIN, "admin", None, T1, True),
        (EXPIRING_READER, "read", PROJECT, T2 - timedelta(microseconds=1), True),
        (EXPIRING_READER, "read", PROJECT, T2, False),
        (EXPIRING_READER, "read", PROJECT, T2 + timedelta(days=1), False),
        *((REVOKED_ADMIN, scope, PROJECT, T2, False) for scope in ALL),
        (REVOKED_ADMIN, "admin", None, T0, False),
    ],
)
def test_what_a_key_allows(
    api_key: ApiKey, scope: str, project_id: UUID | None, now: datetime, allowed: bool
) -> None:
    assert api_key.allows(scope, project_id, now) is allowed


@pytest.mark.parametrize(
    ("api_key", "now", "usable"),
    [
        (PROJECT_READER, T2 + timedelta(days=3650), True),
        (EXPIRING_READER, T1, True),
        (EXPIRING_READER, T2, False),
        (REVOKED_ADMIN, T1, False),
    ],
)
def test_whether_a_key_authenticates_at_all(api_key: ApiKey, now: datetime, usable: bool) -> None:
    assert api_key.is_usable(now) is usable


def test_asking_about_an_unknown_scope_is_a_loud_error() -> None:
    with pytest.raises(InvalidValue) as caught:
        GLOBAL_ADMIN.allows("owner", PROJECT, T1)
    assert caught.value.field == "scope"


def test_asking_with_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidValue) as caught:
        PROJECT_READER.allows("read", PROJECT, datetime(2025, 3, 1))
    assert caught.value.field == "now"
