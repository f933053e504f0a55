"""Specs for the Run aggregate: requesting a run, starting, cancelling and timing it out."""

from __future__ import annotations

import math
from datetime import datetime

import msgspec
import pytest
from run_facts import (
    BUILD_RUNNING,
    BUILD_TEST,
    CANCEL_REQUESTED,
    FINISHED,
    GITHUB,
    OLD_RUN_ID,
    REGISTRY,
    RUN_ID,
    RUN_IN,
    T0,
    at,
    failed,
    plan,
    queued,
    request,
    requested,
    run_event,
    spec,
    succeeded,
)

from domain.errors import IllegalTransition, InvalidValue, RunKindMismatch
from domain.registry import EventRecord
from domain.run import Run
from domain.run_statuses import RunStatus, StepStatus, TriggerKind
from domain.run_values import ExternalRef, StepState, Trigger

WEBHOOK = Trigger(
    kind=TriggerKind.WEBHOOK,
    actor="github:octocat",
    repo="acme/web",
    ref="refs/heads/main",
    sha="9fceb02",
    pull_request=42,
    event="pull_request",
    delivery_id="72d3162e",
)
PARAMETERS = {"env": "staging", "shards": 4, "ratio": 0.5, "dry_run": True}


def test_requesting_a_run_records_its_pinned_plan_trigger_and_parameters() -> None:
    run = (
        spec()
        .given()
        .when(request(trigger=WEBHOOK, parameters=PARAMETERS))
        .then(requested(*BUILD_TEST, trigger=WEBHOOK, parameters=PARAMETERS))
    )
    assert (run.id, run.version, run.status, run.created_on) == (RUN_ID, 1, RunStatus.QUEUED, T0)
    assert run.pipeline_version == 3
    assert run.steps == {"build": StepState(name="build"), "test": StepState(name="test")}
    assert run.ready_steps() == ("build",)


def test_the_trigger_is_normalised_before_it_is_recorded() -> None:
    loose = Trigger(kind="api", actor="  bot  ")  # type: ignore[arg-type]
    spec().given().when(request(trigger=loose)).then(
        requested(*BUILD_TEST, trigger=Trigger(kind=TriggerKind.API, actor="bot"))
    )


def test_a_retry_is_a_new_run_that_points_at_the_old_one() -> None:
    retry = Trigger(kind=TriggerKind.RETRY, actor="ann")
    run = (
        spec()
        .given()
        .when(request(trigger=retry, retry_of=OLD_RUN_ID))
        .then(requested(*BUILD_TEST, trigger=retry, retry_of=OLD_RUN_ID))
    )
    assert run.retry_of == OLD_RUN_ID


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"at": datetime(2025, 3, 1)}, "at"),
        ({"pipeline_version": 0}, "pipeline_version"),
        ({"trigger": Trigger(kind="cron", actor="ann")}, "trigger.kind"),
        ({"trigger": Trigger(kind=TriggerKind.MANUAL, actor=" ")}, "trigger.actor"),
        (
            {"trigger": Trigger(kind=TriggerKind.API, actor="a", pull_request=0)},
            "trigger.pull_request",
        ),
        ({"trigger": Trigger(kind=TriggerKind.API, actor="a", event="push")}, "trigger.event"),
        ({"trigger": Trigger(kind=TriggerKind.RETRY, actor="ann")}, "retry_of"),
        ({"retry_of": OLD_RUN_ID}, "retry_of"),
        (
            {"trigger": Trigger(kind=TriggerKind.RETRY, actor="a"), "retry_of": RUN_ID},
            "retry_of",
        ),
        ({"parameters": {"ratio": math.nan}}, "parameters.ratio"),
        ({"parameters": {"ratio": math.inf}}, "parameters.ratio"),
        ({"parameters": {" ": "x"}}, "parameters"),
        ({"parameters": {"list": [1]}}, "parameters.list"),
        ({"steps": ()}, "steps"),
        ({"steps": (plan("a"), plan("a"))}, "steps.name"),
        ({"steps": (plan(" a"),)}, "steps.name"),
        ({"steps": (plan(""),)}, "steps.name"),
        ({"steps": (plan("a", "ghost"),)}, "steps.needs"),
        ({"steps": (plan("a", "a"),)}, "steps.needs"),
        ({"steps": (plan("a"), plan("b", "a", "a"))}, "steps.needs"),
        ({"steps": (plan("a", "c"), plan("b", "a"), plan("c", "b"))}, "steps.needs"),
        ({"steps": (plan("a", retries=-1),)}, "steps.retries"),
        ({"steps": (msgspec.structs.replace(plan("a"), timeout_s=0),)}, "steps.timeout_s"),
        ({"external": GITHUB}, "steps"),
        (
            {
                "steps": (),
                "external": ExternalRef(provider="circle", external_id="1", url="https://x"),
            },
            "external.provider",
        ),
        (
            {
                "steps": (),
                "external": ExternalRef(provider="gitlab", external_id=" ", url="https://x"),
            },
            "external.external_id",
        ),
        (
            {
                "steps": (),
                "external": ExternalRef(provider="gitlab", external_id="1", url="ftp://x"),
            },
            "external.url",
        ),
    ],
)
def test_requesting_with_an_invalid_value_is_refused(overrides: dict, field: str) -> None:
    spec().given().when(request(**overrides)).then_raises(InvalidValue, field=field)


def test_a_cycle_in_the_plan_is_named() -> None:
    error = (
        spec()
        .given()
        .when(request(steps=(plan("a", "c"), plan("b", "a"), plan("c", "b"))))
        .then_raises(InvalidValue, field="steps.needs")
    )
    assert error.reason == "cycle: a -> c -> b -> a"


def test_requesting_an_external_run_records_its_reference_and_no_steps() -> None:
    run = spec().given().when(request(steps=(), external=GITHUB)).then(requested(external=GITHUB))
    assert (run.external, run.steps, run.ready_steps()) == (GITHUB, {}, ())


def test_starting_a_queued_run() -> None:
    run = (
        spec()
        .given(*RUN_IN["queued"])
        .when(lambda r: r.start(at=at(1)))
        .then(run_event("RunStarted", 1))
    )
    assert (run.status, run.started_at) == (RunStatus.RUNNING, at(1))


@pytest.mark.parametrize("status", ["running", "cancelling", *FINISHED])
def test_starting_a_run_that_is_not_queued_is_an_illegal_transition(status: str) -> None:
    spec().given(*RUN_IN[status]).when(lambda r: r.start(at=at(10))).then_raises(
        IllegalTransition, aggregate="run", current_state=status, attempted="start"
    )


def test_cancelling_a_queued_run_cancels_its_steps_and_the_run_at_once() -> None:
    run = (
        spec()
        .given(*RUN_IN["queued"])
        .when(lambda r: r.request_cancel(actor=" bob ", reason="wrong branch", at=at(1)))
        .then(
            run_event("RunCancelRequested", 1, actor="bob", reason="wrong branch"),
            run_event("StepCancelled", 1, step="build", reason="run cancelled"),
            run_event("StepCancelled", 1, step="test", reason="run cancelled"),
            run_event("RunCancelled", 1),
        )
    )
    assert (run.status, run.cancel_requested_by, run.finished_at) == (
        RunStatus.CANCELLED,
        "bob",
        at(1),
    )


def test_cancelling_a_running_run_waits_for_its_running_steps() -> None:
    run = (
        spec()
        .given(*BUILD_RUNNING)
        .when(lambda r: r.request_cancel(actor="bob", at=at(5)))
        .then(CANCEL_REQUESTED, run_event("StepCancelled", 5, step="test", reason="run cancelled"))
    )
    assert run.status is RunStatus.CANCELLING
    assert run.steps["build"].status is StepStatus.RUNNING
    assert run.ready_steps() == ()


def test_the_runner_stopping_the_last_running_step_cancels_the_run() -> None:
    spec().given(*RUN_IN["cancelling"]).when(
        lambda r: r.cancel_step("build", attempt=1, reason="SIGTERM", at=at(6))
    ).then(
        run_event("StepCancelled", 6, step="build", reason="SIGTERM"),
        run_event("RunCancelled", 6),
    )


def test_a_step_that_finishes_before_its_runner_sees_the_cancel_keeps_its_outcome() -> None:
    spec().given(*RUN_IN["cancelling"]).when(
        lambda r: r.succeed_step("build", attempt=1, at=at(6))
    ).then(succeeded("build", 6, duration_ms=4000), run_event("RunCancelled", 6))


def test_a_failure_while_cancelling_is_neither_retried_nor_propagated() -> None:
    given = [requested(plan("build", retries=2), plan("test", "build")), *BUILD_RUNNING[1:]]
    given += [CANCEL_REQUESTED, run_event("StepCancelled", 5, step="test", reason="run cancelled")]
    spec().given(*given).when(
        lambda r: r.fail_step("build", attempt=1, exit_code=143, reason="SIGTERM", at=at(6))
    ).then(
        failed("build", 6, duration_ms=4000, exit_code=143, reason="SIGTERM"),
        run_event("RunCancelled", 6),
    )


def test_a_second_cancel_request_decides_nothing() -> None:
    # Two concurrent cancels: the loser of the append race reloads, sees this, and writes nothing.
    spec().given(*RUN_IN["cancelling"]).when(
        lambda r: r.request_cancel(actor="carol", reason="again", at=at(7))
    ).then()


@pytest.mark.parametrize("status", FINISHED)
def test_cancelling_a_finished_run_is_an_illegal_transition(status: str) -> None:
    spec().given(*RUN_IN[status]).when(
        lambda r: r.request_cancel(actor="bob", at=at(10))
    ).then_raises(IllegalTransition, current_state=status, attempted="cancel")


def test_a_cancel_request_needs_an_actor() -> None:
    spec().given(*RUN_IN["queued"]).when(
        lambda r: r.request_cancel(actor=" ", at=at(1))
    ).then_raises(InvalidValue, field="actor")


def test_timing_out_a_queued_run() -> None:
    spec().given(*RUN_IN["queued"]).when(lambda r: r.time_out(at=at(9))).then(
        run_event("StepCancelled", 9, step="build", reason="run timed out"),
        run_event("StepCancelled", 9, step="test", reason="run timed out"),
        run_event("RunTimedOut", 9),
    )


def test_timing_out_a_running_run_cancels_its_unfinished_steps() -> None:
    given = [*BUILD_RUNNING, succeeded("build", 3), queued("test", 4)]
    run = (
        spec()
        .given(*given)
        .when(lambda r: r.time_out(at=at(9)))
        .then(
            run_event("StepCancelled", 9, step="test", reason="run timed out"),
            run_event("RunTimedOut", 9),
        )
    )
    assert (run.status, run.finished_at) == (RunStatus.TIMED_OUT, at(9))
    assert run.steps["build"].status is StepStatus.SUCCEEDED


def test_timing_out_a_cancelling_run() -> None:
    spec().given(*RUN_IN["cancelling"]).when(lambda r: r.time_out(at=at(9))).then(
        run_event("StepCancelled", 9, step="build", reason="run timed out"),
        run_event("RunTimedOut", 9),
    )


@pytest.mark.parametrize("status", FINISHED)
def test_timing_out_a_finished_run_is_an_illegal_transition(status: str) -> None:
    spec().given(*RUN_IN[status]).when(lambda r: r.time_out(at=at(10))).then_raises(
        IllegalTransition, current_state=status, attempted="time out"
    )


@pytest.mark.parametrize(
    "command",
    [
        lambda r: r.start(at=at(1)),
        lambda r: r.queue_step("build", at=at(1)),
        lambda r: r.queue_ready(at=at(1)),
        lambda r: r.start_step("build", attempt=1, at=at(1)),
        lambda r: r.succeed_step("build", attempt=1, at=at(1)),
        lambda r: r.fail_step("build", attempt=1, reason="x", at=at(1)),
        lambda r: r.cancel_step("build", attempt=1, reason="x", at=at(1)),
    ],
)
def test_an_external_run_takes_no_step_commands(command) -> None:
    spec().given(requested(external=GITHUB)).when(command).then_raises(
        RunKindMismatch, run_kind="external"
    )


def test_a_whole_run_round_trips_through_json_and_replays_to_the_same_state() -> None:
    run = Run.request(
        id=RUN_ID,
        project_id=RUN_IN["queued"][0][1]["project_id"],
        pipeline_id=RUN_IN["queued"][0][1]["pipeline_id"],
        pipeline_version=3,
        trigger=WEBHOOK,
        parameters=PARAMETERS,
        steps=(
            plan("build", retries=1),
            plan("lint", allow_failure=True),
            plan("test", "build", "lint"),
        ),
        at=T0,
    )
    run.queue_ready(at=at(1))
    run.start_step("build", attempt=1, runner="r1", at=at(2))
    run.start_step("lint", attempt=1, runner="r2", at=at(2))
    run.append_log(seq=1, step="build", stream="stdout", text="compiling…\n", at=at(3))
    run.fail_step("lint", attempt=1, exit_code=2, reason="style", at=at(3))
    run.fail_step("build", attempt=1, reason="runner_lost", metrics={"cost_usd": 0.25}, at=at(4))
    run.start_step("build", attempt=2, at=at(5))
    run.succeed_step(
        "build", attempt=2, outputs={"image": "web:1"}, metrics={"cost_usd": 0.5}, at=at(6)
    )
    run.queue_ready(at=at(6))
    run.start_step("test", attempt=1, at=at(7))
    run.succeed_step("test", attempt=1, metrics={"tokens_in": 1200, "tokens_out": 300}, at=at(8))
    events = run.collect_events()

    records = [
        msgspec.json.decode(msgspec.json.encode(REGISTRY.encode(e)), type=EventRecord)
        for e in events
    ]
    replayed = None
    for version, record in enumerate(records, start=1):
        event = REGISTRY.decode(record, originator_id=RUN_ID, originator_version=version)
        replayed = event.mutate(replayed)

    assert [r.type for r in records][-2:] == ["StepSucceeded", "RunSucceeded"]
    assert replayed == run
    assert replayed.metric_totals == {"cost_usd": 0.75, "tokens_in": 1200.0, "tokens_out": 300.0}
    assert replayed.steps["build"].outputs == {"image": "web:1"}
    assert replayed.steps["lint"].status is StepStatus.FAILED


def test_the_shared_histories_are_valid_pasts_of_a_run() -> None:
    for status, history in RUN_IN.items():
        run = spec().given(*history).state
        assert run is not None and run.status == status
