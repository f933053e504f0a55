"""Specs for the Pipeline aggregate: given past events, when a command, then events or an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest
from specs import Spec

from domain.errors import IllegalTransition, InvalidValue, UnknownPipelineVersion
from domain.parameter_spec import ParameterSpec
from domain.pipeline import Pipeline, PipelineStatus
from domain.pipeline_definition import PipelineDefinition
from domain.project import Project
from domain.registry import EventRecord, Registry
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec

ID = UUID("0195f1d0-0000-7000-8000-0000000000a1")
PROJECT_ID = UUID("0195f1d0-0000-7000-8000-000000000001")
T0 = datetime(2025, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
T2 = T0 + timedelta(hours=1)
T3 = T0 + timedelta(days=1)
REGISTRY = Registry(Project, Pipeline)

V1 = PipelineDefinition(
    name="CI",
    tags=("web",),
    parameters=(ParameterSpec(name="target", type="choice", choices=("dev", "prod")),),
    steps=(
        StepSpec(name="build", run="make", env={"CI": "1"}),
        StepSpec(name="test", run="make test", needs=("build",), retries=2),
    ),
    triggers=(TriggerSpec(source="github", events=("push",), branches=("main",)),),
)
V2 = msgspec.structs.replace(V1, description="Builds and tests the shop.")
V3 = msgspec.structs.replace(V2, steps=(StepSpec(name="all", run="make all"),))
CYCLIC = msgspec.structs.replace(
    V1,
    steps=(StepSpec(name="a", run="x", needs=("b",)), StepSpec(name="b", run="y", needs=("a",))),
)

CREATED = (
    "PipelineCreated",
    {"project_id": PROJECT_ID, "version": 1, "definition": V1, "occurred_at": T0},
)
DEFINED_V2 = ("PipelineVersionDefined", {"version": 2, "definition": V2, "occurred_at": T1})
ACTIVATED = ("PipelineActivated", {"occurred_at": T2})
DEACTIVATED = ("PipelineDeactivated", {"occurred_at": T1})
ARCHIVED = ("PipelineArchived", {"occurred_at": T2})


def spec() -> Spec[Pipeline]:
    return Spec(Pipeline, ID, registry=REGISTRY)


def create(**overrides: Any):
    args = {"id": ID, "project_id": PROJECT_ID, "definition": V1, "at": T0} | overrides
    return lambda _: Pipeline.create(**args)


def test_creating_a_pipeline_records_its_project_and_definition_as_version_1() -> None:
    pipeline = (
        spec()
        .given()
        .when(create(definition=msgspec.structs.replace(V1, name="  CI ")))
        .then(CREATED)
    )
    assert (pipeline.id, pipeline.version, pipeline.project_id) == (ID, 1, PROJECT_ID)
    assert (pipeline.current_version, pipeline.definitions) == (1, {1: V1})
    assert (pipeline.status, pipeline.active, pipeline.archived) == (
        PipelineStatus.ACTIVE,
        True,
        False,
    )
    assert pipeline.created_on == pipeline.modified_on == T0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"definition": CYCLIC}, "steps[0].needs"),
        ({"definition": msgspec.structs.replace(V1, steps=())}, "steps"),
        ({"at": datetime(2025, 3, 1)}, "at"),
    ],
)
def test_creating_with_an_invalid_value_is_refused(overrides: dict, field: str) -> None:
    spec().given().when(create(**overrides)).then_raises(InvalidValue, field=field)


def test_defining_a_new_version_keeps_every_earlier_one() -> None:
    pipeline = (
        spec()
        .given(CREATED, DEFINED_V2)
        .when(lambda p: p.define_version(V3, at=T2))
        .then(("PipelineVersionDefined", {"version": 3, "definition": V3, "occurred_at": T2}))
    )
    assert (pipeline.current_version, pipeline.version, pipeline.modified_on) == (3, 3, T2)
    assert pipeline.definition() == pipeline.definition(3) == V3
    assert (pipeline.definition(1), pipeline.definition(2)) == (V1, V2)


def test_an_inactive_pipeline_may_get_a_new_version_and_stays_inactive() -> None:
    pipeline = (
        spec()
        .given(CREATED, DEACTIVATED)
        .when(lambda p: p.define_version(V2, at=T2))
        .then(("PipelineVersionDefined", {"version": 2, "definition": V2, "occurred_at": T2}))
    )
    assert (pipeline.status, pipeline.current_version) == (PipelineStatus.INACTIVE, 2)


def test_defining_the_current_definition_again_decides_nothing() -> None:
    same_once_trimmed = msgspec.structs.replace(V2, name=" CI ", description=f" {V2.description}")
    spec().given(CREATED, DEFINED_V2).when(
        lambda p: p.define_version(same_once_trimmed, at=T2)
    ).then()


def test_defining_an_earlier_definition_again_is_a_new_version() -> None:
    spec().given(CREATED, DEFINED_V2).when(lambda p: p.define_version(V1, at=T2)).then(
        ("PipelineVersionDefined", {"version": 3, "definition": V1, "occurred_at": T2})
    )


def test_defining_an_invalid_version_is_refused() -> None:
    error = (
        spec()
        .given(CREATED)
        .when(lambda p: p.define_version(CYCLIC, at=T1))
        .then_raises(InvalidValue, field="steps[0].needs")
    )
    assert error.reason == "cycle: a -> b -> a"


def test_deactivating_an_active_pipeline() -> None:
    pipeline = (
        spec()
        .given(CREATED)
        .when(lambda p: p.deactivate(at=T1))
        .then(("PipelineDeactivated", {"occurred_at": T1}))
    )
    assert (pipeline.status, pipeline.active, pipeline.modified_on) == (
        PipelineStatus.INACTIVE,
        False,
        T1,
    )


def test_activating_an_inactive_pipeline() -> None:
    pipeline = (
        spec()
        .given(CREATED, DEACTIVATED)
        .when(lambda p: p.activate(at=T2))
        .then(("PipelineActivated", {"occurred_at": T2}))
    )
    assert (pipeline.status, pipeline.active) == (PipelineStatus.ACTIVE, True)


def test_activating_an_active_pipeline_decides_nothing() -> None:
    spec().given(CREATED).when(lambda p: p.activate(at=T1)).then()
    spec().given(CREATED, DEACTIVATED, ACTIVATED).when(lambda p: p.activate(at=T3)).then()


def test_deactivating_an_inactive_pipeline_decides_nothing() -> None:
    spec().given(CREATED, DEACTIVATED).when(lambda p: p.deactivate(at=T2)).then()


@pytest.mark.parametrize(
    "history", [(CREATED,), (CREATED, DEACTIVATED)], ids=["active", "inactive"]
)
def test_archiving_an_active_or_inactive_pipeline(history: tuple) -> None:
    pipeline = (
        spec()
        .given(*history)
        .when(lambda p: p.archive(at=T3))
        .then(("PipelineArchived", {"occurred_at": T3}))
    )
    assert (pipeline.status, pipeline.archived, pipeline.active) == (
        PipelineStatus.ARCHIVED,
        True,
        False,
    )


@pytest.mark.parametrize(
    ("command", "attempted"),
    [
        (lambda p: p.define_version(V3, at=T3), "redefine"),
        (lambda p: p.activate(at=T3), "activate"),
        (lambda p: p.deactivate(at=T3), "deactivate"),
        (lambda p: p.archive(at=T3), "archive"),
    ],
    ids=["redefine", "activate", "deactivate", "archive"],
)
@pytest.mark.parametrize(
    "history",
    [(CREATED, ARCHIVED), (CREATED, DEFINED_V2, DEACTIVATED, ARCHIVED)],
    ids=["archived-while-active", "archived-while-inactive"],
)
def test_every_command_on_an_archived_pipeline_is_an_illegal_transition(
    history: tuple, command: Any, attempted: str
) -> None:
    error = (
        spec()
        .given(*history)
        .when(command)
        .then_raises(IllegalTransition, current_state="archived", attempted=attempted)
    )
    assert str(error) == f"cannot {attempted} a pipeline that is archived"


@pytest.mark.parametrize(
    "command",
    [
        lambda p: p.define_version(V2, at=datetime(2025, 3, 2)),
        lambda p: p.activate(at=datetime(2025, 3, 2)),
        lambda p: p.deactivate(at=datetime(2025, 3, 2)),
        lambda p: p.archive(at=datetime(2025, 3, 2)),
    ],
    ids=["redefine", "activate", "deactivate", "archive"],
)
def test_a_command_with_a_naive_time_is_refused(command: Any) -> None:
    spec().given(CREATED).when(command).then_raises(InvalidValue, field="at")


def test_an_archived_pipeline_still_gives_the_versions_its_runs_pinned() -> None:
    pipeline = spec().given(CREATED, DEFINED_V2, ARCHIVED).state
    assert pipeline is not None
    assert (pipeline.definition(1), pipeline.definition()) == (V1, V2)


@pytest.mark.parametrize("version", [0, 3, -1])
def test_asking_for_a_version_never_defined_is_a_domain_error(version: int) -> None:
    pipeline = spec().given(CREATED, DEFINED_V2).state
    assert pipeline is not None

    with pytest.raises(UnknownPipelineVersion) as caught:
        pipeline.definition(version)

    assert (caught.value.pipeline_id, caught.value.version) == (ID, version)
    assert caught.value.code == "unknown_pipeline_version"


def test_every_event_round_trips_through_json_and_replays_to_the_same_pipeline() -> None:
    pipeline = Pipeline.create(id=ID, project_id=PROJECT_ID, definition=V1, at=T0)
    pipeline.define_version(V2, at=T1)
    pipeline.deactivate(at=T1)
    pipeline.activate(at=T2)
    pipeline.archive(at=T3)
    events = pipeline.collect_events()

    records = [
        msgspec.json.decode(msgspec.json.encode(REGISTRY.encode(e)), type=EventRecord)
        for e in events
    ]
    assert [r.type for r in records] == [
        "PipelineCreated",
        "PipelineVersionDefined",
        "PipelineDeactivated",
        "PipelineActivated",
        "PipelineArchived",
    ]
    assert records[0].data["definition"]["steps"][1]["needs"] == ["build"]

    replayed = None
    for version, record in enumerate(records, start=1):
        event = REGISTRY.decode(record, originator_id=ID, originator_version=version)
        assert event == events[version - 1]
        replayed = event.mutate(replayed)
    assert replayed == pipeline
    assert REGISTRY.stream_type(Pipeline) == "pipeline"
