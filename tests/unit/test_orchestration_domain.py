"""Conditions, matrices and concurrency groups in the domain: plans, decisions, invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.concurrency_group import ConcurrencyGroup, group_id_for
from domain.errors import IllegalTransition, InvalidValue, StepNotReady
from domain.matrix import expand
from domain.pipeline_definition import PipelineDefinition
from domain.run import Run
from domain.run_expansion import plan_of, runner_labels, with_step_groups
from domain.run_statuses import StepStatus, TriggerKind
from domain.run_values import Trigger

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PROJECT = UUID("0195f1d0-0000-7000-8000-000000000001")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def definition(*steps: dict[str, Any], **fields: Any) -> PipelineDefinition:
    body = {"name": "p", "steps": list(steps), **fields}
    return msgspec.convert(body, PipelineDefinition).validated()


def run_of(defn: PipelineDefinition, *, ref: str | None = None, **parameters: Any) -> Run:
    run = Run.request(
        id=uuid4(),
        project_id=PROJECT,
        pipeline_id=uuid4(),
        pipeline_version=1,
        trigger=Trigger(kind=TriggerKind.API, actor="ann", ref=ref),
        parameters=parameters,
        steps=plan_of(defn),
        at=T0,
    )
    run.collect_events()
    return run


def finish(run: Run, step: str, outcome: str, when: float = 1) -> None:
    """Queue (if pending), start and end `step`; then let ready steps be decided."""
    if run.steps[step].status is StepStatus.PENDING:
        run.queue_step(step, at=at(when))
    run.start_step(step, attempt=run.steps[step].attempt, at=at(when))
    if outcome == "succeeded":
        run.succeed_step(step, attempt=run.steps[step].attempt, at=at(when + 0.5))
    else:
        run.fail_step(step, attempt=run.steps[step].attempt, reason="exit 1", at=at(when + 0.5))
    run.queue_ready(at=at(when + 0.6))


def statuses(run: Run) -> dict[str, str]:
    return {name: state.status.value for name, state in run.steps.items()}


def test_always_and_failure_steps_run_after_a_failure_and_the_run_fails() -> None:
    run = run_of(definition(
        {"name": "build", "run": "make"},
        {"name": "ship", "run": "ship", "needs": ["build"]},
        {"name": "cleanup", "run": "rm", "needs": ["build"], "if": "always()"},
        {"name": "alert", "run": "page", "needs": ["build"], "if": "failure()"},
        {"name": "party", "run": "yay", "needs": ["build"], "if": "success()"},
    ))  # fmt: skip
    finish(run, "build", "failed")
    assert statuses(run) == {"build": "failed", "ship": "skipped", "cleanup": "queued",
                             "alert": "queued", "party": "skipped"}  # fmt: skip
    assert run.steps["party"].reason == "if: success() evaluated to false"
    finish(run, "cleanup", "succeeded", 2)
    finish(run, "alert", "succeeded", 3)
    assert run.status.value == "failed" and run.failure == "build failed"


def test_a_skip_by_condition_is_no_failure_and_skips_plain_dependants() -> None:
    run = run_of(
        definition(
            {"name": "build", "run": "make"},
            {"name": "deploy", "run": "go", "needs": ["build"], "if": "params.env == 'prod'"},
            {"name": "smoke", "run": "curl", "needs": ["deploy"]},
            {"name": "report", "run": "mail", "needs": ["deploy"], "if": "!failure()"},
            parameters=[{"name": "env", "type": "string", "default": "dev"}],
        ),
        env="dev",
    )
    run.queue_ready(at=at(0))
    finish(run, "build", "succeeded")
    assert statuses(run)["deploy"] == "skipped"
    assert run.steps["deploy"].reason == "if: params.env == 'prod' evaluated to false"
    assert run.steps["smoke"].reason == "needs deploy, which was skipped"
    assert statuses(run)["report"] == "queued"
    finish(run, "report", "succeeded", 2)
    assert run.status.value == "succeeded"


def test_a_run_whose_every_step_is_skipped_starts_and_succeeds() -> None:
    run = run_of(definition({"name": "only", "run": "x", "if": "branch == 'main'"}),
                 ref="refs/heads/dev")  # fmt: skip
    run.queue_ready(at=at(0))
    assert run.status.value == "succeeded"
    assert run.steps["only"].reason == "if: branch == 'main' evaluated to false"


def test_conditions_read_only_steps_they_need() -> None:
    with pytest.raises(InvalidValue) as refused:
        definition(
            {"name": "a", "run": "x"},
            {"name": "b", "run": "x", "needs": ["a"]},
            {"name": "c", "run": "x", "needs": ["a"], "if": "steps.b.outcome == 'success'"},
        )
    assert refused.value.field == "steps[2].if"
    # Indirect needs may be read, and sequential pipelines need the step before.
    definition({"name": "a", "run": "x"}, {"name": "b", "run": "x"},
               {"name": "c", "run": "x", "if": "steps.a.outputs.v == '1'"})  # fmt: skip


MATRIX = {
    "os": ["linux", "mac"],
    "py": ["3.10", "3.11", "3.12"],
    "exclude": [{"os": "mac", "py": "3.12"}],
}


def test_a_matrix_expands_into_named_instances_that_dependants_all_need() -> None:
    defn = definition(
        {"name": "test", "run": "pytest ${{ matrix.py }}", "matrix": MATRIX,
         "labels": ["${{ matrix.os }}"]},
        {"name": "publish", "run": "x", "needs": ["test"]},
    )  # fmt: skip
    plan = plan_of(defn)
    names = [p.name for p in plan]
    assert names == ["test (os=linux, py=3.10)", "test (os=linux, py=3.11)",
                     "test (os=linux, py=3.12)", "test (os=mac, py=3.10)",
                     "test (os=mac, py=3.11)", "publish"]  # fmt: skip
    assert plan[-1].needs == tuple(names[:-1])
    assert plan[3].matrix == {"os": "mac", "py": "3.10"} and plan[3].instance_of == "test"
    labels = runner_labels(defn, {p.name: p for p in plan}, "linux")
    assert labels["test (os=mac, py=3.11)"] == "mac" and labels["publish"] == "linux"


def test_fail_fast_cancels_the_unfinished_siblings_with_the_reason() -> None:
    run = run_of(definition({"name": "test", "run": "x", "matrix": MATRIX},
                            {"name": "after", "run": "x", "needs": ["test"]}))  # fmt: skip
    run.queue_ready(at=at(0))
    first, second = "test (os=linux, py=3.10)", "test (os=linux, py=3.11)"
    run.start_step(second, attempt=1, at=at(0.5))
    finish(run, first, "failed")
    cancelled = {n for n, s in run.steps.items() if s.status is StepStatus.CANCELLED}
    assert cancelled == {n for n in run.steps if n.startswith("test") and n != first}
    assert run.steps[second].reason == f"fail-fast: {first} failed"
    assert statuses(run)["after"] == "skipped"
    assert run.status.value == "failed"


def test_max_parallel_holds_back_the_other_instances() -> None:
    run = run_of(definition({"name": "t", "run": "x", "matrix": {"n": [1, 2, 3, 4]},
                             "max_parallel": 2, "fail_fast": False}))  # fmt: skip
    run.queue_ready(at=at(0))
    assert list(statuses(run).values()) == ["queued", "queued", "pending", "pending"]
    finish(run, "t (n=1)", "failed")
    assert list(statuses(run).values()) == ["failed", "queued", "queued", "pending"]


def test_a_run_in_a_concurrency_group_waits_until_admitted() -> None:
    run = run_of(definition({"name": "deploy", "run": "x"}))
    run.claim_concurrency(group_id_for(PROJECT, "deploy-main"), "deploy-main", "queue", at=T0)
    assert run.waits_for_group and run.ready_steps() == ()
    with pytest.raises(IllegalTransition):
        run.queue_step("deploy", at=at(0.5))  # a runner reporting it running early is refused
    run.admit_concurrency(at=at(1))
    run.admit_concurrency(at=at(2))  # already so: nothing more
    assert [type(e).__name__ for e in run.collect_events()] == [
        "ConcurrencyClaimed", "ConcurrencyAdmitted"]  # fmt: skip
    assert run.ready_steps() == ("deploy",)


OPS = st.tuples(
    st.sampled_from(["join", "release"]),
    st.integers(0, 5),
    st.sampled_from(["queue", "cancel_in_progress"]),
)


@given(st.lists(OPS, max_size=40))
def test_a_group_never_holds_two_runs_nor_lists_one_twice(ops: list[Any]) -> None:
    runs = [UUID(int=i + 1) for i in range(6)]
    group = ConcurrencyGroup.open(project_id=PROJECT, key="k", at=T0)
    ended: set[UUID] = set()
    for i, (op, index, policy) in enumerate(ops):
        run = runs[index]
        if op == "join" and run not in ended:
            before = list(group.waiting)
            group.join(run, policy, at=at(i))
            if policy == "queue" and run not in before and run != group.holder:
                assert group.waiting[: len(before)] == before  # in order, behind the others
        elif op == "release":
            group.release(run, at=at(i))
            ended.add(run)
        members = [group.holder, *group.waiting] if group.holder else group.waiting
        assert len(members) == len(set(members))
        assert not ended & set(members)
        # Nobody waits for a free group.
        assert group.holder is not None or not group.waiting
    # Each run is admitted at most once, and one is only admitted once the one before ended.
    admitted = [e.run_id for e in group.collect_events()
                if isinstance(e, ConcurrencyGroup.RunAdmitted)]  # fmt: skip
    assert len(set(admitted)) == len(admitted)
    assert all(earlier in ended for earlier in admitted[:-1])


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]),
                       st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True),
                       min_size=1))  # fmt: skip
def test_expansion_is_the_product_less_exclusions(axes: dict[str, list[int]]) -> None:
    combos = expand(axes)
    expected = 1
    for values in axes.values():
        expected *= len(values)
    assert len(combos) == expected
    excluded = {next(iter(axes)): axes[next(iter(axes))][0]}
    assert all(c[k] != v for c in expand({**axes, "exclude": [excluded]})
               for k, v in excluded.items())  # fmt: skip


def test_a_huge_matrix_is_refused_before_it_is_expanded() -> None:
    axes = {f"a{i}": list(range(32)) for i in range(8)}
    with pytest.raises(InvalidValue, match="combinations before exclude"):
        definition({"name": "t", "run": "x", "matrix": axes})


def test_a_runner_report_may_queue_an_always_step_after_a_failure_but_not_a_plain_one() -> None:
    run = run_of(definition(
        {"name": "build", "run": "make"},
        {"name": "cleanup", "run": "rm", "needs": ["build"], "if": "always()"},
        {"name": "party", "run": "yay", "needs": ["build"], "if": "success()"},
    ))  # fmt: skip
    with pytest.raises(StepNotReady):
        run.queue_step("cleanup", at=at(0))  # build has not finished
    run.queue_step("build", at=at(0))
    run.start_step("build", attempt=1, at=at(0.1))
    run.fail_step("build", attempt=1, reason="exit 1", at=at(0.2))
    run.queue_step("cleanup", at=at(0.3))
    with pytest.raises(IllegalTransition, match="evaluated to false"):
        run.queue_step("party", at=at(0.4))


def test_a_grouped_step_waits_for_its_group_and_a_skipped_one_does_not() -> None:
    defn = definition(
        {"name": "build", "run": "make"},
        {"name": "deploy", "run": "go", "needs": ["build"],
         "concurrency": {"group": "env-${{ params.env }}"}},
        {"name": "docs", "run": "go", "needs": ["build"], "if": "params.env == 'dev'",
         "concurrency": {"group": "docs"}},
        parameters=[{"name": "env", "type": "string", "default": "prod"}],
    )  # fmt: skip
    context = {"params": {"env": "prod"}, "branch": None, "trigger": {}}
    plan = with_step_groups(plan_of(defn), defn, context)
    assert [p.group_key for p in plan] == ["", "env-prod", "docs"]
    run = Run.request(id=uuid4(), project_id=PROJECT, pipeline_id=uuid4(), pipeline_version=1,
                      trigger=Trigger(kind=TriggerKind.API, actor="ann"),
                      parameters={"env": "prod"}, steps=plan, at=T0)  # fmt: skip
    finish(run, "build", "succeeded")
    assert run.steps_awaiting_group() == ("deploy",)
    assert statuses(run) == {"build": "succeeded", "deploy": "pending", "docs": "skipped"}
    with pytest.raises(IllegalTransition):
        run.queue_step("deploy", at=at(2))
    run.admit_step("deploy", group_id_for(PROJECT, "step:env-prod"), at=at(2))
    run.queue_ready(at=at(2))
    assert statuses(run)["deploy"] == "queued" and run.steps_awaiting_group() == ()


def test_a_step_group_only_queues() -> None:
    with pytest.raises(InvalidValue, match="only queues"):
        definition({"name": "d", "run": "x",
                    "concurrency": {"group": "g", "policy": "cancel_in_progress"}})  # fmt: skip
