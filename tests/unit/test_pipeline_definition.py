"""Pipeline definitions: validation, the needs DAG, strict parameters and trigger matching."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

from domain.errors import InvalidValue
from domain.parameter_spec import ParameterSpec
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec


def step(name: str, *needs: str, **fields: Any) -> StepSpec:
    return StepSpec(name=name, run=f"make {name}", needs=needs, **fields)


def definition(**overrides: Any) -> PipelineDefinition:
    fields = {"name": "CI", "steps": (step("build"), step("test"))} | overrides
    return PipelineDefinition(**fields)


def refused(candidate: PipelineDefinition, field: str) -> str:
    with pytest.raises(InvalidValue) as caught:
        candidate.validated()
    assert caught.value.field == field, caught.value
    return caught.value.reason


def test_a_request_body_decodes_straight_into_a_definition_with_defaults() -> None:
    body = b'{"name": "CI", "steps": [{"name": "build", "run": "make"}]}'

    decoded = msgspec.json.decode(body, type=PipelineDefinition)

    assert decoded.validated() == decoded
    assert decoded.steps[0] == StepSpec(
        name="build", run="make", timeout_s=3600, retries=0, env={}, needs=(), labels=("linux",)
    )


def test_a_request_body_with_an_unknown_field_is_refused_on_decode() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `command`"):
        msgspec.json.decode(
            b'{"name": "CI", "steps": [{"name": "b", "run": "x", "command": "y"}]}',
            type=PipelineDefinition,
        )


def test_validating_trims_the_name_and_description_only() -> None:
    given = definition(name="  CI  ", description=" Builds it. ", tags=("web", "python"))

    assert given.validated() == definition(
        name="CI", description="Builds it.", tags=("web", "python")
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "x" * 4001}, "description"),
        ({"tags": ("web", "web")}, "tags"),
        ({"tags": ("x" * 51,)}, "tags[0]"),
        ({"tags": ("web", " ")}, "tags[1]"),
        ({"tags": (" web",)}, "tags[0]"),
        ({"steps": ()}, "steps"),
        ({"steps": tuple(step(f"s{i}") for i in range(201))}, "steps"),
        ({"steps": (step("build it"),)}, "steps[0].name"),
        ({"steps": (step("b" * 101),)}, "steps[0].name"),
        ({"steps": (step("a"), StepSpec(name="b", run="  \n"))}, "steps[1].run"),
        ({"steps": (StepSpec(name="b", run="x" * (64 * 1024 + 1)),)}, "steps[0].run"),
        ({"steps": (StepSpec(name="b", run="é" * (32 * 1024 + 1)),)}, "steps[0].run"),
        ({"steps": (StepSpec(name="b", run="echo \x00"),)}, "steps[0].run"),
        ({"steps": (step("b", timeout_s=0),)}, "steps[0].timeout_s"),
        ({"steps": (step("b", timeout_s=86_401),)}, "steps[0].timeout_s"),
        ({"steps": (step("b", timeout_s=True),)}, "steps[0].timeout_s"),
        ({"steps": (step("b", retries=-1),)}, "steps[0].retries"),
        ({"steps": (step("b", retries=11),)}, "steps[0].retries"),
        ({"steps": (step("b", env={"1PATH": "x"}),)}, "steps[0].env"),
        ({"steps": (step("b", env={"MY-VAR": "x"}),)}, "steps[0].env"),
        ({"steps": (step("b", env={"OK": "a\x00b"}),)}, "steps[0].env"),
        ({"steps": (step("b", labels=("linux", "linux")),)}, "steps[0].labels"),
        ({"steps": (step("b", labels=("gpu box",)),)}, "steps[0].labels"),
        ({"steps": (step("a"), step("b", "a", "a"))}, "steps[1].needs"),
        ({"steps": (step("build"), step("test"), step("build"))}, "steps[2].name"),
    ],
)
def test_a_definition_breaking_a_rule_is_refused_naming_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    refused(definition(**overrides), field)


def test_the_limits_themselves_are_allowed() -> None:
    steps = (
        StepSpec(name="b" * 100, run="x" * (64 * 1024), timeout_s=86_400, retries=10),
        *(step(f"s{i}", timeout_s=1) for i in range(199)),
    )
    limits = definition(name="n" * 200, description="d" * 4000, tags=("t" * 50,), steps=steps)

    assert limits.validated() == limits


def test_a_step_that_needs_itself_is_refused() -> None:
    reason = refused(definition(steps=(step("build"), step("test", "test"))), "steps[1].needs")
    assert reason == "'test' cannot need itself"


def test_a_step_that_needs_an_unknown_step_is_refused() -> None:
    steps = (step("build"), step("test", "build"), step("deploy", "test", "lint"))
    assert refused(definition(steps=steps), "steps[2].needs") == "unknown step 'lint'"


def test_a_cycle_of_two_is_reported_with_its_steps_in_order() -> None:
    steps = (step("build", "test"), step("test", "build"))
    assert refused(definition(steps=steps), "steps[0].needs") == "cycle: build -> test -> build"


def test_a_longer_cycle_away_from_the_first_step_is_reported_from_where_it_closes() -> None:
    steps = (
        step("lint"),
        step("build", "lint", "package"),
        step("test", "build"),
        step("package", "test"),
        step("deploy", "package"),
    )
    assert (
        refused(definition(steps=steps), "steps[1].needs")
        == "cycle: build -> package -> test -> build"
    )


@pytest.mark.parametrize(
    ("parameter", "field"),
    [
        (ParameterSpec(name="1st"), "parameters[0].name"),
        (ParameterSpec(name="env", type="text"), "parameters[0].type"),  # type: ignore[arg-type]
        (ParameterSpec(name="env", type="choice"), "parameters[0].choices"),
        (ParameterSpec(name="env", choices=("a",)), "parameters[0].choices"),
        (ParameterSpec(name="env", type="choice", choices=("a", "a")), "parameters[0].choices"),
        (ParameterSpec(name="env", type="choice", choices=("a", " ")), "parameters[0].choices"),
        (ParameterSpec(name="n", type="integer", default="3"), "parameters[0].default"),
        (ParameterSpec(name="n", type="integer", default=3.0), "parameters[0].default"),
        (ParameterSpec(name="n", type="integer", default=True), "parameters[0].default"),
        (ParameterSpec(name="x", type="number", default="1.5"), "parameters[0].default"),
        (ParameterSpec(name="x", type="number", default=math.nan), "parameters[0].default"),
        (ParameterSpec(name="x", type="number", default=False), "parameters[0].default"),
        (ParameterSpec(name="s", default=3), "parameters[0].default"),
        (ParameterSpec(name="b", type="boolean", default="true"), "parameters[0].default"),
        (ParameterSpec(name="b", type="boolean", default=1), "parameters[0].default"),
        (
            ParameterSpec(name="env", type="choice", choices=("dev", "prod"), default="qa"),
            "parameters[0].default",
        ),
        (ParameterSpec(name="env", required=True, default="dev"), "parameters[0].default"),
        (ParameterSpec(name="env", description="d" * 4001), "parameters[0].description"),
    ],
)
def test_a_parameter_breaking_a_rule_is_refused(parameter: ParameterSpec, field: str) -> None:
    refused(definition(parameters=(parameter,)), field)


def test_duplicate_parameter_names_are_refused() -> None:
    parameters = (ParameterSpec(name="env"), ParameterSpec(name="n"), ParameterSpec(name="env"))
    reason = refused(definition(parameters=parameters), "parameters[2].name")
    assert reason == "duplicate parameter name 'env'"


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        (TriggerSpec(source="svn"), "triggers[0].source"),  # type: ignore[arg-type]
        (TriggerSpec(source="github", events=("push", "push")), "triggers[0].events"),
        (TriggerSpec(source="github", events=("",)), "triggers[0].events"),
        (TriggerSpec(source="github", branches=("",)), "triggers[0].branches"),
        (TriggerSpec(source="github", branches=("main", "main")), "triggers[0].branches"),
        (TriggerSpec(source="github", branches=("my branch",)), "triggers[0].branches"),
        (TriggerSpec(source="github", branches=("refs/heads/main",)), "triggers[0].branches"),
        (TriggerSpec(source="github", branches=("release/[0-9",)), "triggers[0].branches"),
        (TriggerSpec(source="github", tags=("v[9-0]*",)), "triggers[0].tags"),
        (TriggerSpec(source="github", tags=("v" * 256,)), "triggers[0].tags"),
    ],
)
def test_a_trigger_breaking_a_rule_is_refused(trigger: TriggerSpec, field: str) -> None:
    refused(definition(triggers=(trigger,)), field)


# --- the needs graph -----------------------------------------------------------------------

SEQUENTIAL = definition(steps=(step("checkout"), step("build"), step("test")))
DAG = definition(
    steps=(
        step("deploy", "test", "package"),
        step("test", "build"),
        step("build"),
        step("package", "build"),
        step("lint"),
    )
)


def test_without_any_needs_each_step_needs_the_one_before_it() -> None:
    assert SEQUENTIAL.sequential
    assert [SEQUENTIAL.effective_needs(s) for s in ("checkout", "build", "test")] == [
        (),
        ("checkout",),
        ("build",),
    ]
    assert SEQUENTIAL.topological_order() == ("checkout", "build", "test")
    assert SEQUENTIAL.ready_steps(set()) == ("checkout",)
    assert SEQUENTIAL.ready_steps({"checkout"}) == ("build",)
    assert SEQUENTIAL.ready_steps({"checkout", "build", "test"}) == ()


def test_with_needs_declared_they_are_taken_as_written_and_other_steps_are_roots() -> None:
    assert not DAG.sequential
    assert DAG.effective_needs("deploy") == ("test", "package")
    assert DAG.effective_needs("lint") == ()
    assert DAG.ready_steps(set()) == ("build", "lint")
    assert DAG.ready_steps({"build"}) == ("test", "package", "lint")
    assert DAG.ready_steps({"build", "test", "lint"}) == ("package",)
    assert DAG.ready_steps({"build", "test", "package", "lint"}) == ("deploy",)


def test_the_topological_order_puts_needs_first_and_otherwise_keeps_declaration_order() -> None:
    assert DAG.topological_order() == ("build", "test", "package", "deploy", "lint")


def test_asking_about_an_unknown_step_is_refused() -> None:
    with pytest.raises(InvalidValue, match="unknown step 'ship'"):
        DAG.ready_steps({"build", "ship"})
    with pytest.raises(InvalidValue, match="unknown step 'ship'"):
        DAG.effective_needs("ship")


# --- parameters ----------------------------------------------------------------------------

WITH_PARAMETERS = definition(
    parameters=(
        ParameterSpec(name="target", type="choice", choices=("dev", "prod"), required=True),
        ParameterSpec(name="workers", type="integer", default=4),
        ParameterSpec(name="ratio", type="number"),
        ParameterSpec(name="dry_run", type="boolean", default=False),
        ParameterSpec(name="note"),
    )
)


def test_resolving_applies_defaults_and_leaves_out_unset_optional_parameters() -> None:
    assert WITH_PARAMETERS.resolve_parameters({"target": "prod"}) == {
        "target": "prod",
        "workers": 4,
        "dry_run": False,
    }


def test_given_values_of_the_right_type_are_kept_as_they_are() -> None:
    given = {"note": "hi", "ratio": 2, "dry_run": True, "workers": 0, "target": "dev"}

    resolved = WITH_PARAMETERS.resolve_parameters(given)

    assert resolved == given
    assert list(resolved) == ["target", "workers", "ratio", "dry_run", "note"]
    assert type(resolved["ratio"]) is int


@pytest.mark.parametrize(
    ("given", "field", "reason"),
    [
        ({"target": "dev", "colour": "red"}, "parameters.colour", "unknown parameter"),
        ({}, "parameters.target", "required"),
        ({"target": "qa"}, "parameters.target", "must be one of dev, prod"),
        ({"target": 1}, "parameters.target", "must be a string"),
        ({"target": "dev", "workers": "3"}, "parameters.workers", "must be an integer"),
        ({"target": "dev", "workers": 3.0}, "parameters.workers", "must be an integer"),
        ({"target": "dev", "workers": True}, "parameters.workers", "must be an integer"),
        ({"target": "dev", "workers": None}, "parameters.workers", "must be an integer"),
        ({"target": "dev", "ratio": "0.5"}, "parameters.ratio", "must be a finite number"),
        ({"target": "dev", "ratio": math.inf}, "parameters.ratio", "must be a finite number"),
        ({"target": "dev", "dry_run": "true"}, "parameters.dry_run", "must be a boolean"),
        ({"target": "dev", "dry_run": 1}, "parameters.dry_run", "must be a boolean"),
        ({"target": "dev", "note": 5}, "parameters.note", "must be a string"),
    ],
)
def test_resolving_is_strict(given: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        WITH_PARAMETERS.resolve_parameters(given)
    assert (caught.value.field, caught.value.reason) == (field, reason)


# --- triggers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "source", "event", "ref", "expected"),
    [
        (TriggerSpec(source="github"), "github", "push", "refs/heads/any/thing", True),
        (TriggerSpec(source="github"), "github", "push", None, True),
        (TriggerSpec(source="github"), "gitlab", "push", "refs/heads/main", False),
        (TriggerSpec(source="gitlab", events=("push",)), "gitlab", "pull_request", None, False),
        (TriggerSpec(source="api", events=("push", "tag_push")), "api", "tag_push", None, True),
        # As in GitHub Actions: `push` with `tags` runs for matching tags, without never.
        (TriggerSpec(source="github", events=("push",), tags=("v*",)), "github", "tag_push",
         "refs/tags/v1.2", True),
        (TriggerSpec(source="github", events=("push",), tags=("v*",)), "github", "tag_push",
         "refs/tags/nightly", False),
        (TriggerSpec(source="github", events=("push",)), "github", "tag_push", "refs/tags/v1",
         False),
        (TriggerSpec(source="github", events=("push",), branches=("main",)), "github",
         "tag_push", "refs/tags/v1", False),
    ],
)  # fmt: skip
def test_a_trigger_matches_its_source_and_event_kinds(
    trigger: TriggerSpec, source: str, event: str, ref: str | None, expected: bool
) -> None:
    assert trigger.matches(source, event, ref) is expected


@pytest.mark.parametrize(
    ("branches", "tags", "ref", "expected"),
    [
        (("main",), (), "refs/heads/main", True),
        (("main",), (), "refs/heads/mainx", False),
        (("main",), (), "main", False),
        (("main",), (), None, False),
        (("*",), (), "refs/pull/7/merge", False),
        (("release/*",), (), "refs/heads/release/1.2", True),
        (("release/*",), (), "refs/heads/release/1.2/fix", False),
        (("release/**",), (), "refs/heads/release/1.2/fix", True),
        (("release/**",), (), "refs/heads/release", False),
        (("**/hotfix-*",), (), "refs/heads/hotfix-1", True),
        (("**/hotfix-*",), (), "refs/heads/a/b/hotfix-1", True),
        (("feat/**/ui",), (), "refs/heads/feat/x/y/ui", True),
        (("feat/**/ui",), (), "refs/heads/feat/ui", True),
        (("**",), (), "refs/heads/a/b/c", True),
        (("**",), (), "refs/tags/v1", False),
        (("dev", "stage-?"), (), "refs/heads/stage-2", True),
        (("stage-?",), (), "refs/heads/stage-10", False),
        (("v[0-9].x",), (), "refs/heads/v3.x", True),
        (("[!d]*",), (), "refs/heads/dev", False),
        (("[!d]*",), (), "refs/heads/main", True),
        (("a.b",), (), "refs/heads/axb", False),
        ((), ("v*",), "refs/tags/v1.2", True),
        ((), ("v*",), "refs/tags/1.2", False),
        ((), ("v*",), "refs/heads/v1", False),
        ((), ("v*",), "refs/tags/v1/rc", False),
        ((), ("v**",), "refs/tags/v1/rc", True),
        (("main",), ("v*",), "refs/tags/v2", True),
        (("main",), ("v*",), "refs/heads/main", True),
        (("main",), ("v*",), "refs/heads/dev", False),
    ],
)
def test_a_trigger_matches_branch_and_tag_globs_on_the_short_ref_name(
    branches: tuple[str, ...], tags: tuple[str, ...], ref: str | None, expected: bool
) -> None:
    trigger = TriggerSpec(source="github", branches=branches, tags=tags)
    definition(triggers=(trigger,)).validated()

    assert trigger.matches("github", "push", ref) is expected
