"""Specs for gates on a run's steps: approval steps, environment approvals and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import IllegalTransition, InvalidValue
from domain.parameter_spec import ParameterSpec
from domain.pipeline_definition import PipelineDefinition
from domain.run import Run
from domain.run_statuses import RunStatus, StepStatus, TriggerKind
from domain.run_values import Gate, StepPlan, Trigger
from domain.step_spec import StepSpec

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = (
    ParameterSpec(name="version", type="string", required=True),
    ParameterSpec(name="canary", type="boolean", default=False),
    ParameterSpec(name="region", type="choice", choices=("eu", "us"), default="eu"),
)


def gate(required: int = 1, on_timeout: str = "reject", inputs: tuple = FIELDS) -> Gate:
    return Gate(
        prompt="ship it?",
        approvers=(),
        required=required,
        timeout_s=60,
        on_timeout=on_timeout,
        inputs=inputs,
    )


def run_of(*steps: StepPlan) -> Run:
    return Run.request(
        id=uuid4(),
        project_id=uuid4(),
        pipeline_id=uuid4(),
        pipeline_version=1,
        trigger=Trigger(kind=TriggerKind.API, actor="tester"),
        parameters={},
        steps=steps,
        at=T0,
    )


def step(name: str, *needs: str, **more: object) -> StepPlan:
    return StepPlan(name=name, needs=needs, retries=0, timeout_s=60, allow_failure=False, **more)


def types(run: Run) -> list[str]:
    return [e.event_type for e in run.collect_events()]  # type: ignore[attr-defined]


def test_an_approval_step_waits_and_its_inputs_become_outputs() -> None:
    run = run_of(step("ask", kind="approval", gate=gate()), step("deploy", "ask"))
    run.queue_ready(at=T0)
    assert run.steps["ask"].status is StepStatus.WAITING_FOR_APPROVAL
    assert run.status is RunStatus.RUNNING
    assert run.steps["ask"].deadline == T0 + timedelta(seconds=60)
    with pytest.raises(InvalidValue, match=r"inputs\.version"):
        run.decide_approval("ask", decision="approve", principal="key:a", actor="a", at=T0)
    run.decide_approval(
        "ask",
        decision="approve",
        principal="key:a",
        actor="alice",
        comment="go",
        inputs={"version": "1.2", "canary": True},
        at=T0 + timedelta(seconds=5),
    )
    assert run.steps["ask"].status is StepStatus.SUCCEEDED
    assert run.steps["ask"].outputs == {"version": "1.2", "canary": "true", "region": "eu"}
    assert run.ready_steps() == ("deploy",)
    with pytest.raises(IllegalTransition):
        run.decide_approval("ask", decision="reject", principal="key:b", actor="b", at=T0)


def test_a_rejection_fails_the_step_skips_what_needs_it_and_ends_the_run() -> None:
    run = run_of(step("ask", kind="approval", gate=gate()), step("deploy", "ask"))
    run.queue_ready(at=T0)
    run.decide_approval(
        "ask", decision="reject", principal="key:b", actor="bob", comment="no", at=T0
    )
    assert run.steps["ask"].status is StepStatus.FAILED
    assert run.steps["ask"].reason == "rejected by bob: no"
    assert run.steps["deploy"].status is StepStatus.SKIPPED
    assert run.status is RunStatus.FAILED


def test_an_environment_gate_needs_distinct_approvals_then_queues_the_step() -> None:
    run = run_of(step("deploy", gate=gate(required=2, inputs=()), environment="production"))
    run.queue_ready(at=T0)
    run.decide_approval("deploy", decision="approve", principal="key:a", actor="a", at=T0)
    assert run.steps["deploy"].status is StepStatus.WAITING_FOR_APPROVAL
    with pytest.raises(IllegalTransition, match="already approved"):
        run.decide_approval("deploy", decision="approve", principal="key:a", actor="a", at=T0)
    run.decide_approval("deploy", decision="approve", principal="key:b", actor="b", at=T0)
    assert run.steps["deploy"].status is StepStatus.PENDING
    run.queue_ready(at=T0)
    assert run.steps["deploy"].status is StepStatus.QUEUED


def test_the_timeout_decides_the_default_outcome_only_after_the_deadline() -> None:
    for outcome, status in (("reject", StepStatus.FAILED), ("approve", StepStatus.SUCCEEDED)):
        fields = FIELDS[1:]
        run = run_of(step("ask", kind="approval", gate=gate(on_timeout=outcome, inputs=fields)))
        run.queue_ready(at=T0)
        with pytest.raises(IllegalTransition, match="open until"):
            run.expire_approval("ask", at=T0 + timedelta(seconds=59))
        run.expire_approval("ask", at=T0 + timedelta(seconds=60))
        assert run.steps["ask"].status is status
        decided = [e for e in run.collect_events() if e.event_type == "ApprovalDecided"]
        assert decided[0].timed_out and decided[0].principal == "system:approval-timeout"


def test_a_refused_step_fails_before_running_with_its_reason() -> None:
    run = run_of(step("deploy", refused="branch 'x' is not allowed"), step("after", "deploy"))
    run.queue_ready(at=T0)
    assert run.steps["deploy"].status is StepStatus.FAILED
    assert run.steps["deploy"].reason == "branch 'x' is not allowed"
    assert run.steps["after"].status is StepStatus.SKIPPED
    assert run.status is RunStatus.FAILED
    with pytest.raises(IllegalTransition):
        run_of(step("deploy", refused="no")).queue_step("deploy", at=T0)


def test_cancelling_cancels_a_waiting_step() -> None:
    run = run_of(step("ask", kind="approval", gate=gate()))
    run.queue_ready(at=T0)
    run.request_cancel(actor="x", at=T0)
    assert run.steps["ask"].status is StepStatus.CANCELLED
    assert run.status is RunStatus.CANCELLED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "approval", "run": "echo"}, "runs nothing"),
        ({"run": "echo", "prompt": "?"}, "only an approval step"),
        ({"kind": "approval", "approvers": ("alice",)}, "key:<api key id>"),
        ({"kind": "approval", "approvers": ("key:a", "key:a")}, "twice"),
        ({"run": "echo", "environment": "prod uction"}, "environment"),
        (
            {"kind": "approval", "on_timeout": "approve", "inputs": (FIELDS[0],)},
            "no required input",
        ),
        ({"kind": "jenkins", "run": "x"}, "jenkins"),
        ({"kind": "run"}, "blank"),
    ],
)
def test_definitions_refuse_broken_approval_fields(fields: dict, message: str) -> None:
    definition = PipelineDefinition(name="p", steps=(StepSpec(name="s", **fields),))
    with pytest.raises(InvalidValue, match=message):
        definition.validated()


def test_an_approval_step_needs_no_run() -> None:
    spec = StepSpec(name="ask", kind="approval", prompt="ok?", inputs=FIELDS)
    PipelineDefinition(name="p", steps=(spec,)).validated()


@given(
    required=st.integers(1, 4),
    decisions=st.lists(
        st.tuples(st.sampled_from(["key:a", "key:b", "key:c", "key:d"]), st.booleans()),
        max_size=8,
    ),
)
def test_a_gate_opens_on_its_nth_distinct_approval_and_closes_on_the_first_rejection(
    required: int, decisions: list[tuple[str, bool]]
) -> None:
    run = run_of(step("deploy", gate=gate(required=required, inputs=()), environment="prod"))
    run.queue_ready(at=T0)
    approvals: set[str] = set()
    for principal, approve in decisions:
        state = run.steps["deploy"]
        if state.status is not StepStatus.WAITING_FOR_APPROVAL or principal in approvals:
            with pytest.raises(IllegalTransition):
                run.decide_approval(
                    "deploy", decision="approve", principal=principal, actor="x", at=T0
                )
            continue
        decision = "approve" if approve else "reject"
        run.decide_approval("deploy", decision=decision, principal=principal, actor="x", at=T0)
        if not approve:
            assert run.steps["deploy"].status is StepStatus.FAILED
            break
        approvals.add(principal)
        opened = run.steps["deploy"].status is StepStatus.PENDING
        assert opened == (len(approvals) >= required)
        if opened:
            break
    recorded = run.steps["deploy"].approvals
    assert len(recorded) == len(approvals) and set(recorded) == approvals
