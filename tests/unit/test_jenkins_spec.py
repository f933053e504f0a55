"""Jenkins steps in a definition: their fields' rules, where their jobs go, how results map."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import InvalidValue
from domain.jenkins_spec import JENKINS_RESULTS, JenkinsSpec, job_url_path, step_result
from domain.parameter_spec import ParameterSpec
from domain.pipeline_definition import PipelineDefinition
from domain.run_expansion import plan_of, runner_labels
from domain.step_spec import StepSpec

SPEC = {"url": "https://ci.example.com/", "job": "team/deploy", "user": "bot",
        "token_secret": "JENKINS_TOKEN"}  # fmt: skip


def jenkins(name: str = "deploy", spec: dict[str, Any] | None = None, **fields: Any) -> StepSpec:
    fields = {"kind": "jenkins", "secrets": ("JENKINS_TOKEN",)} | fields
    return StepSpec(name=name, jenkins=JenkinsSpec(**(SPEC | (spec or {}))), **fields)


def validated(*steps: StepSpec, **fields: Any) -> PipelineDefinition:
    return PipelineDefinition(name="p", steps=steps, **fields).validated()


def test_a_jenkins_step_with_its_fields_is_accepted_and_needs_no_run() -> None:
    definition = validated(
        jenkins(spec={"parameters": {"VERSION": "${{ params.v }}", "dry.run": "false"}}),
        parameters=(ParameterSpec(name="v"),),
    )
    assert definition.steps[0].jenkins is not None


@pytest.mark.parametrize(
    ("step", "field", "reason"),
    [
        (StepSpec(name="d", kind="jenkins", secrets=("T",)), "jenkins", "needs {url"),
        (jenkins(run="make"), "run", "leave run out"),
        (StepSpec(name="d", run="make", jenkins=JenkinsSpec(**SPEC)), "jenkins", "only a step"),
        (jenkins(secrets=()), "jenkins.token_secret", "also be listed"),
        (jenkins(spec={"url": "ftp://ci/"}), "jenkins.url", "http(s)"),
        (jenkins(spec={"url": "https://ci/?x=1"}), "jenkins.url", "no query"),
        (jenkins(spec={"url": "https://u:p@ci/"}), "jenkins.url", "no credentials"),
        (jenkins(spec={"job": "a/../b"}), "jenkins.job", "folder/job"),
        (jenkins(spec={"job": "a//b"}), "jenkins.job", "folder/job"),
        (jenkins(spec={"job": ""}), "jenkins.job", "folder/job"),
        (jenkins(spec={"user": " "}), "jenkins.user", "blank"),
        (jenkins(spec={"parameters": {"a b": "1"}}), "jenkins.parameters", "'a b'"),
        (jenkins(spec={"parameters": {"A": "x\x00"}}), "jenkins.parameters", "NUL"),
        (jenkins(checkout=True), "checkout", "no workspace"),
        (jenkins(artifacts=("out/",)), "artifacts", "no workspace"),
    ],
)
def test_a_jenkins_step_breaking_a_rule_is_refused_naming_the_field(
    step: StepSpec, field: str, reason: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        validated(step)
    assert caught.value.field == f"steps[0].{field}"
    assert reason in caught.value.reason


def test_a_parameter_template_must_name_a_known_parameter() -> None:
    with pytest.raises(InvalidValue) as caught:
        validated(jenkins(spec={"parameters": {"V": "${{ params.nope }}"}}))
    assert caught.value.field == "steps[0].jenkins.parameters.V"


def test_a_jenkins_step_goes_to_jenkins_runners_unless_it_names_labels() -> None:
    definition = validated(
        jenkins("a"), jenkins("b", labels=("dmz",)), StepSpec(name="c", run="make")
    )
    labels = runner_labels(definition, {p.name: p for p in plan_of(definition)}, "linux")
    assert labels == {"a": "jenkins", "b": "dmz", "c": "linux"}


def test_jobs_in_folders_are_addressed_part_by_part_and_quoted() -> None:
    assert job_url_path("deploy") == "job/deploy"
    assert job_url_path("team/my app/deploy#2") == "job/team/job/my%20app/job/deploy%232"


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ("SUCCESS", "succeeded"),
        ("UNSTABLE", "failed"),
        ("FAILURE", "failed"),
        ("ABORTED", "failed"),
        ("NOT_BUILT", "failed"),
        ("success", "succeeded"),
        (None, "failed"),
        ("WEIRD", "failed"),
    ],
)
def test_build_results_map_to_step_statuses(result: str | None, status: str) -> None:
    got, reason = step_result(result)
    assert got == status
    assert (reason == "") == (status == "succeeded")
    assert set(JENKINS_RESULTS) == {"SUCCESS", "UNSTABLE", "FAILURE", "ABORTED", "NOT_BUILT"}
