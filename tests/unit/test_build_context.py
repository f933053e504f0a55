"""The pure parts of runs that build software: templates, trigger facts as environment,
outputs files (GitHub's `$GITHUB_OUTPUT` format), clone URLs, and what a failed-only retry
carries over."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.runner.checkout import shown
from adapters.runner.outputs import read_outputs
from domain.errors import InvalidValue
from domain.run import Run
from domain.run_build import carried_steps
from domain.run_context import context_env, needed_outputs, trigger_facts
from domain.run_statuses import StepStatus, TriggerKind
from domain.run_values import StepPlan, StepState, Trigger
from domain.templates import Reference, check_references, context_lookup, parse, render

AT = datetime(2026, 1, 1, tzinfo=UTC)


def plan(name: str, *needs: str) -> StepPlan:
    return StepPlan(name=name, needs=needs, retries=0, timeout_s=60, allow_failure=False)


def test_references_parse_to_their_roots() -> None:
    assert parse(" steps.build.v1.outputs.version ") == Reference("steps", "build.v1", "version")
    assert parse("params.flavor") == Reference("params", "flavor")
    assert parse("trigger.sha") == Reference("trigger", "sha")
    for bad in ("steps.build.version", "trigger.password", "env.HOME", "params.a b", "1 + 1"):
        with pytest.raises(InvalidValue):
            parse(bad)


@given(st.text(max_size=60))
def test_a_rendered_value_is_never_expanded_again(value: str) -> None:
    lookup = context_lookup({"a": {"v": value}}, {}, {})
    assert render("<${{ steps.a.outputs.v }}>", lookup) == f"<{value}>"


@given(st.text(max_size=80))
def test_text_without_references_renders_as_itself(text: str) -> None:
    if "${{" not in text:
        assert render(text, context_lookup({}, {}, {})) == text


def test_a_reference_must_be_to_an_ancestor_or_a_declared_parameter() -> None:
    known = {"ancestors": {"a"}, "parameters": {"p"}, "steps": {"a", "b", "c"}}
    check_references("${{ steps.a.outputs.x }} ${{ params.p }}", "f", **known)
    with pytest.raises(InvalidValue, match="'b' is not a step this one needs") as error:
        check_references("${{ steps.b.outputs.x }}", "steps[2].run", **known)
    assert error.value.field == "steps[2].run"
    with pytest.raises(InvalidValue, match="no parameter 'q'"):
        check_references("${{ params.q }}", "f", **known)


def test_trigger_facts_become_stable_environment_names() -> None:
    trigger = Trigger(
        kind=TriggerKind.WEBHOOK, actor="sealed", repo="team/app", ref="refs/tags/v1.0",
        sha="abc123", pull_request=7, event="push", delivery_id="d-1", provider="github",
        clone_url="https://example.com/team/app.git", base_ref="refs/heads/main",
    )  # fmt: skip
    facts = trigger_facts(trigger, actor="ada")
    env = context_env(facts, {"build.x": {"my-key": "1"}})
    assert env == {
        "FLOWLEDGER_TRIGGER_KIND": "webhook",
        "FLOWLEDGER_TRIGGER_PROVIDER": "github",
        "FLOWLEDGER_TRIGGER_ACTOR": "ada",
        "FLOWLEDGER_TRIGGER_REPOSITORY": "team/app",
        "FLOWLEDGER_TRIGGER_REPOSITORY_URL": "https://example.com/team/app.git",
        "FLOWLEDGER_TRIGGER_REF": "refs/tags/v1.0",
        "FLOWLEDGER_TRIGGER_TAG": "v1.0",
        "FLOWLEDGER_TRIGGER_SHA": "abc123",
        "FLOWLEDGER_TRIGGER_PR_NUMBER": "7",
        "FLOWLEDGER_TRIGGER_BASE_REF": "refs/heads/main",
        "FLOWLEDGER_TRIGGER_EVENT": "push",
        "FLOWLEDGER_TRIGGER_DELIVERY_ID": "d-1",
        "FLOWLEDGER_STEPS_BUILD_X_OUTPUTS_MY_KEY": "1",
    }


def test_a_step_gets_the_outputs_of_every_step_before_it_in_its_needs() -> None:
    steps = {"a": plan("a"), "b": plan("b", "a"), "c": plan("c", "b"), "d": plan("d")}
    outputs = {"a": {"x": "1"}, "b": {"y": "2"}, "d": {"z": "3"}}
    assert needed_outputs("c", steps, outputs) == {"a": {"x": "1"}, "b": {"y": "2"}}


def test_outputs_files_take_lines_and_heredocs(tmp_path: Path) -> None:
    path = tmp_path / "out"
    path.write_text("a=1\nnotes<<EOF\none\ntwo=2\nEOF\nb=x<<y\nbad\nc<<END\nnever\n")
    outputs, problems = read_outputs(path)
    assert outputs == {"a": "1", "notes": "one\ntwo=2", "b": "x<<y"}
    assert problems == [
        "outputs line 7: expected key=value",
        "outputs line 8: no closing 'END' line",
    ]


def test_a_clone_url_never_holds_a_password() -> None:
    def request(url: str) -> Run:
        trigger = Trigger(kind=TriggerKind.API, actor="a", clone_url=url)
        return Run.request(id=uuid4(), project_id=uuid4(), pipeline_id=uuid4(),
                           pipeline_version=1, trigger=trigger, parameters={},
                           steps=(plan("a"),), at=AT)  # fmt: skip

    for ok in ("https://github.com/a/b.git", "file:///srv/git/b.git", "git@github.com:a/b.git",
               "git://127.0.0.1:9418/b.git", "https://x-access@github.com/a/b"):  # fmt: skip
        assert request(ok).trigger.clone_url == ok
    for bad in ("https://user:token@github.com/a/b.git", "ftp://x/y", "not a url", "https://a b"):
        with pytest.raises(InvalidValue):
            request(bad)
    assert shown("https://user@host/x") == "https://host/x"


def test_a_failed_only_retry_keeps_succeeded_steps_whose_needs_it_keeps() -> None:
    steps = {"a": plan("a"), "b": plan("b", "a"), "c": plan("c", "b"), "d": plan("d")}

    def state(name: str, status: StepStatus) -> StepState:
        return StepState(name=name, status=status, attempt=1, outputs={"k": name})

    states = {
        "a": state("a", StepStatus.SUCCEEDED),
        "b": state("b", StepStatus.FAILED),
        "c": state("c", StepStatus.SKIPPED),
        "d": state("d", StepStatus.SUCCEEDED),
    }
    assert list(carried_steps(steps, states)) == ["a", "d"]
    # A step after one that runs again runs again, even if it succeeded.
    states["b"] = state("b", StepStatus.SUCCEEDED)
    states["a"] = state("a", StepStatus.FAILED)
    assert list(carried_steps(steps, states)) == ["d"]

    run = Run.request(id=uuid4(), project_id=uuid4(), pipeline_id=uuid4(), pipeline_version=1,
                      trigger=Trigger(kind=TriggerKind.RETRY, actor="x"), parameters={},
                      steps=tuple(steps.values()), retry_of=uuid4(), at=AT)  # fmt: skip
    old = uuid4()
    run.carry_over(old, carried_steps(steps, states), at=AT)
    assert run.steps["d"].status is StepStatus.SUCCEEDED
    assert (run.steps["d"].carried_from, run.steps["d"].outputs) == (old, {"k": "d"})
    assert run.ready_steps() == ("a",)
    assert msgspec.json.encode(run.steps["d"])  # a state the views can hold
