"""The Secret aggregate: versions, idempotent sets, deletion, and what its events hold."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import IllegalTransition, InvalidValue
from domain.registry import default_registry
from domain.secret import Secret, secret_stream_id

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FP1 = "hmac-sha256:" + "1" * 32
FP2 = "hmac-sha256:" + "2" * 32


def _secret(environment: str | None = None) -> Secret:
    return Secret.create(
        project_id=uuid4(),
        name="DEPLOY_KEY",
        environment=environment,
        fingerprint=FP1,
        by="alice",
        at=AT,
    )


def test_a_new_secret_is_version_one_on_a_stream_named_by_project_name_and_environment() -> None:
    secret = _secret("prod")

    assert (secret.secret_version, secret.fingerprint, secret.deleted) == (1, FP1, False)
    assert secret.id == secret_stream_id(secret.project_id, "DEPLOY_KEY", "prod")
    assert secret.id != secret_stream_id(secret.project_id, "DEPLOY_KEY", None)


def test_a_new_value_is_a_new_version_and_the_same_value_decides_nothing() -> None:
    secret = _secret()

    assert secret.set(fingerprint=FP2, by="bob", at=AT) is True
    assert secret.set(fingerprint=FP2, by="bob", at=AT) is False

    assert secret.secret_version == 2
    assert [type(e).__name__ for e in secret.collect_events()] == ["Created", "ValueSet"]


def test_deleting_keeps_the_version_and_a_later_value_goes_on_counting() -> None:
    secret = _secret()
    secret.delete(by="bob", at=AT)

    with pytest.raises(IllegalTransition):
        secret.delete(by="bob", at=AT)
    # The same value again after a deletion is a new version: the old one was destroyed.
    assert secret.set(fingerprint=FP1, by="bob", at=AT) is True

    assert (secret.secret_version, secret.deleted) == (2, False)


def test_the_events_hold_names_versions_fingerprints_and_who_never_a_value() -> None:
    secret = _secret("prod")
    secret.set(fingerprint=FP2, by="bob", at=AT)
    secret.delete(by="carol", at=AT)
    registry = default_registry()

    records = [registry.encode(e) for e in secret.collect_events()]

    assert [r.type for r in records] == ["SecretCreated", "SecretSet", "SecretDeleted"]
    assert set(records[0].data) - {"occurred_at"} == {
        "project_id",
        "name",
        "environment",
        "secret_version",
        "fingerprint",
        "by",
        "pipeline_id",
    }
    assert set(records[1].data) - {"occurred_at"} == {"secret_version", "fingerprint", "by"}
    assert records[2].data["secret_version"] == 2 and records[2].data["by"] == "carol"


@pytest.mark.parametrize("name", ["", "1ABC", "has space", "A-B", "x" * 101, "é"])
def test_a_name_that_is_no_environment_variable_is_refused(name: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Secret.create(
            project_id=uuid4(), name=name, environment=None, fingerprint=FP1, by="a", at=AT
        )
    assert refused.value.field == "name"


@pytest.mark.parametrize("environment", ["", "has space", "x" * 65, "a/b"])
def test_a_bad_environment_name_is_refused(environment: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Secret.create(
            project_id=uuid4(), name="A", environment=environment, fingerprint=FP1, by="a", at=AT
        )
    assert refused.value.field == "environment"


@pytest.mark.parametrize("fingerprint", ["", "sha256:" + "1" * 32, "hmac-sha256:" + "g" * 32])
def test_anything_but_a_keyed_fingerprint_is_refused(fingerprint: str) -> None:
    with pytest.raises(InvalidValue):
        Secret.create(
            project_id=uuid4(), name="A", environment=None, fingerprint=fingerprint, by="a", at=AT
        )


@given(
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
    environments=st.lists(
        st.none() | st.from_regex(r"[a-z0-9_.-]{1,10}", fullmatch=True), min_size=2, max_size=2
    ),
)
def test_stream_ids_differ_exactly_when_the_environment_differs(
    name: str, environments: list[str | None]
) -> None:
    project = uuid4()
    first, second = (secret_stream_id(project, name, e) for e in environments)

    assert (first == second) == (environments[0] == environments[1])


def test_a_secret_replays_from_its_stored_records() -> None:
    secret = _secret("prod")
    secret.set(fingerprint=FP2, by="bob", at=AT)
    secret.delete(by="carol", at=AT)
    registry = default_registry()
    records = [registry.encode(e) for e in secret.collect_events()]

    replayed = None
    for version, record in enumerate(records, start=1):
        event = registry.decode(record, originator_id=secret.id, originator_version=version)
        replayed = event.mutate(replayed)

    assert isinstance(replayed, Secret)
    assert (replayed.name, replayed.environment, replayed.project_id) == (
        "DEPLOY_KEY",
        "prod",
        secret.project_id,
    )
    assert (replayed.secret_version, replayed.deleted, replayed.fingerprint) == (2, True, None)


def test_a_step_declares_secret_names_once_apart_from_env_and_a_valid_environment() -> None:
    from domain.step_spec import StepSpec

    StepSpec(name="ok", run="x", secrets=("A", "B"), environment="prod").check("steps[0]")
    bad = [
        (StepSpec(name="s", run="x", secrets=("A", "A")), "steps[0].secrets"),
        (StepSpec(name="s", run="x", secrets=("1A",)), "steps[0].secrets"),
        (StepSpec(name="s", run="x", env={"A": "v"}, secrets=("A",)), "steps[0].secrets"),
        (StepSpec(name="s", run="x", environment="no spaces"), "steps[0].environment"),
    ]
    for spec, field in bad:
        with pytest.raises(InvalidValue) as refused:
            spec.check("steps[0]")
        assert refused.value.field == field


def test_a_secret_is_bound_to_an_environment_or_a_pipeline_never_both() -> None:
    project, pipeline = uuid4(), uuid4()
    wide = secret_stream_id(project, "TOKEN", None)
    bound = secret_stream_id(project, "TOKEN", None, pipeline)
    assert len({wide, bound, secret_stream_id(project, "TOKEN", None, uuid4())}) == 3
    assert bound != secret_stream_id(project, "TOKEN", "prod")
    with pytest.raises(InvalidValue, match="not both"):
        Secret.create(
            project_id=project,
            name="TOKEN",
            environment="prod",
            pipeline_id=pipeline,
            fingerprint="hmac-sha256:" + "0" * 32,
            by="alice",
            at=datetime.now(UTC),
        )


def test_a_v1_created_event_is_read_as_bound_to_no_pipeline() -> None:
    upcast = default_registry().upcast("SecretCreated", 1, {"name": "TOKEN"})
    assert upcast == {"name": "TOKEN", "pipeline_id": None}
