"""Specs for a run's steps: the DAG, queueing, starting, retries, outcomes and settling the run."""

from __future__ import annotations

import math

import pytest
from run_facts import (
    BUILD_RUNNING,
    BUILD_TEST,
    RUN_IN,
    RUN_STARTED,
    at,
    failed,
    plan,
    queued,
    requested,
    run_event,
    spec,
    started,
    step_ran,
    succeeded,
    timed_out,
)

from domain.errors import (
    AttemptMismatch,
    IllegalTransition,
    InvalidValue,
    StepNotReady,
    UnknownStep,
)
from domain.run_statuses import RunStatus, StepStatus
from domain.run_values import StepState

# build -> (unit, lint) -> deploy; lint may fail.
DIAMOND = (
    plan("build", retries=1),
    plan("unit", "build"),
    plan("lint", "build", allow_failure=True),
    plan("deploy", "unit", "lint"),
)
BUILT = [requested(*DIAMOND), RUN_STARTED, *step_ran("build", 1)]

# One past per step status: (history, the step in that status, its run's status).
THREE = (plan("build"), plan("other"), plan("test", "build"))
BOTH_RUNNING = [
    requested(*THREE),
    queued("build", 1),
    queued("other", 1),
    RUN_STARTED,
    started("build", 2),
    started("other", 2),
]
STEP_IN: dict[str, tuple[list, str, str]] = {
    "pending": ([requested(*THREE)], "build", "queued"),
    "queued": ([requested(*THREE), queued("build", 1)], "build", "queued"),
    "running": (BOTH_RUNNING, "build", "running"),
    "succeeded": ([*BOTH_RUNNING, succeeded("build", 3)], "build", "running"),
    "failed": (
        [*BOTH_RUNNING, failed("build", 3), run_event("StepSkipped", 3, step="test", reason="")],
        "build",
        "running",
    ),
    "cancelled": (
        [
            *BOTH_RUNNING,
            run_event("RunCancelRequested", 4, actor="bob", reason=""),
            run_event("StepCancelled", 4, step="test", reason="run cancelled"),
        ],
        "test",
        "cancelling",
    ),
}
STEP_IN["skipped"] = (STEP_IN["failed"][0], "test", "running")
STEP_IN["timed_out"] = (
    [*BOTH_RUNNING, timed_out("build", 3), run_event("StepSkipped", 3, step="test", reason="")],
    "build",
    "running",
)


def test_a_pending_step_whose_needs_are_met_is_queued_for_its_first_attempt() -> None:
    run = (
        spec()
        .given(requested(*BUILD_TEST))
        .when(lambda r: r.queue_step("build", at=at(1)))
        .then(queued("build", 1))
    )
    assert run.steps["build"] == StepState(
        name="build", status=StepStatus.QUEUED, attempt=1, queued_at=at(1)
    )
    assert (run.status, run.ready_steps()) == (RunStatus.QUEUED, ())


def test_queueing_a_step_before_its_needs_is_refused() -> None:
    spec().given(requested(*BUILD_TEST)).when(lambda r: r.queue_step("test", at=at(1))).then_raises(
        StepNotReady, step="test", waiting_on=("build",)
    )


def test_queueing_an_unknown_step_is_refused() -> None:
    spec().given(requested(*BUILD_TEST)).when(
        lambda r: r.queue_step("deploy", at=at(1))
    ).then_raises(UnknownStep, step="deploy", field="step")


def test_ready_steps_follow_the_dag_and_tolerated_failures() -> None:
    run = spec().given(*BUILT).state
    assert run is not None and run.ready_steps() == ("unit", "lint")
    run = spec().given(*BUILT, *step_ran("unit", 4), *step_ran("lint", 4, "failed")).state
    assert run is not None and run.ready_steps() == ("deploy",)


def test_queueing_every_ready_step_at_once() -> None:
    spec().given(*BUILT).when(lambda r: r.queue_ready(at=at(4))).then(
        queued("unit", 4), queued("lint", 4)
    )


def test_queueing_ready_steps_when_none_is_ready_decides_nothing() -> None:
    spec().given(*BUILD_RUNNING).when(lambda r: r.queue_ready(at=at(4))).then()


def test_starting_a_step_of_a_queued_run_starts_the_run_first() -> None:
    run = (
        spec()
        .given(requested(*BUILD_TEST), queued("build", 1))
        .when(lambda r: r.start_step("build", attempt=1, runner=" r1 ", at=at(2)))
        .then(RUN_STARTED, started("build", 2))
    )
    assert (run.status, run.started_at) == (RunStatus.RUNNING, at(2))
    assert (run.steps["build"].runner, run.steps["build"].started_at) == ("r1", at(2))


def test_starting_a_step_of_a_running_run() -> None:
    spec().given(*BUILD_RUNNING, succeeded("build", 3), queued("test", 3)).when(
        lambda r: r.start_step("test", attempt=1, at=at(4))
    ).then(started("test", 4, runner=None))


def test_a_step_succeeding_records_its_duration_outputs_and_metrics() -> None:
    metrics = {"tokens_in": 1200, "tokens_out": 300, "cost_usd": 0.0123}
    run = (
        spec()
        .given(*BUILD_RUNNING)
        .when(
            lambda r: r.succeed_step(
                "build", attempt=1, outputs={"image": "web:1"}, metrics=metrics, at=at(4.5)
            )
        )
        .then(
            succeeded(
                "build",
                4.5,
                duration_ms=2500,
                outputs={"image": "web:1"},
                metrics={"tokens_in": 1200.0, "tokens_out": 300.0, "cost_usd": 0.0123},
            )
        )
    )
    build = run.steps["build"]
    assert (build.status, build.exit_code, build.finished_at, build.duration_ms) == (
        StepStatus.SUCCEEDED,
        0,
        at(4.5),
        2500,
    )
    assert run.metric_totals == {"tokens_in": 1200.0, "tokens_out": 300.0, "cost_usd": 0.0123}
    assert (run.status, run.ready_steps()) == (RunStatus.RUNNING, ("test",))


def test_a_finish_reported_before_the_recorded_start_has_no_negative_duration() -> None:
    spec().given(*BUILD_RUNNING).when(lambda r: r.succeed_step("build", attempt=1, at=at(1))).then(
        succeeded("build", 1, duration_ms=0)
    )


def test_the_last_step_succeeding_succeeds_the_run() -> None:
    run = (
        spec()
        .given(*BUILD_RUNNING, succeeded("build", 3), queued("test", 3), started("test", 4))
        .when(lambda r: r.succeed_step("test", attempt=1, at=at(6)))
        .then(succeeded("test", 6, duration_ms=2000), run_event("RunSucceeded", 6))
    )
    assert (run.status, run.finished_at) == (RunStatus.SUCCEEDED, at(6))


def test_a_failed_attempt_with_retries_left_is_queued_again() -> None:
    given = [requested(plan("build", retries=2), plan("test", "build")), *BUILD_RUNNING[1:]]
    run = (
        spec()
        .given(*given)
        .when(lambda r: r.fail_step("build", attempt=1, reason="runner_lost", at=at(4)))
        .then(
            failed("build", 4, duration_ms=2000, exit_code=None, reason="runner_lost"),
            queued("build", 4, attempt=2),
        )
    )
    assert run.steps["build"] == StepState(
        name="build", status=StepStatus.QUEUED, attempt=2, queued_at=at(4)
    )
    assert run.status is RunStatus.RUNNING


def test_a_retried_step_runs_its_next_attempt_and_metrics_add_up_over_attempts() -> None:
    given = [
        requested(plan("build", retries=1)),
        queued("build", 1),
        RUN_STARTED,
        started("build", 2),
        failed("build", 3, metrics={"cost_usd": 0.25}),
        queued("build", 3, attempt=2),
        started("build", 4, attempt=2),
    ]
    run = (
        spec()
        .given(*given)
        .when(lambda r: r.succeed_step("build", attempt=2, metrics={"cost_usd": 0.5}, at=at(5)))
        .then(
            succeeded("build", 5, attempt=2, metrics={"cost_usd": 0.5}),
            run_event("RunSucceeded", 5),
        )
    )
    assert (run.steps["build"].attempt, run.steps["build"].metrics) == (2, {"cost_usd": 0.5})
    assert run.metric_totals == {"cost_usd": 0.75}


def test_the_last_attempt_failing_skips_its_dependants_and_fails_the_run() -> None:
    run = (
        spec()
        .given(
            *BUILT[:-1], failed("build", 3), queued("build", 3, attempt=2), started("build", 4, 2)
        )
        .when(
            lambda r: r.fail_step("build", attempt=2, exit_code=2, reason="exit status 2", at=at(5))
        )
        .then(
            failed("build", 5, attempt=2, exit_code=2, reason="exit status 2"),
            run_event("StepSkipped", 5, step="unit", reason="build failed"),
            run_event("StepSkipped", 5, step="lint", reason="build failed"),
            run_event("StepSkipped", 5, step="deploy", reason="build failed"),
            run_event("RunFailed", 5, reason="build failed", step="build"),
        )
    )
    assert (run.status, run.failure, run.finished_at) == (RunStatus.FAILED, "build failed", at(5))
    assert run.steps["deploy"].status is StepStatus.SKIPPED


def test_a_hard_failure_lets_independent_steps_finish_before_the_run_fails() -> None:
    steps = (plan("a"), plan("b"), plan("c", "a"))
    given = [requested(*steps), queued("a", 1), queued("b", 1), RUN_STARTED]
    given += [started("a", 2), started("b", 2)]
    run = (
        spec()
        .given(*given)
        .when(lambda r: r.fail_step("a", attempt=1, exit_code=1, reason="exit status 1", at=at(3)))
        .then(failed("a", 3), run_event("StepSkipped", 3, step="c", reason="a failed"))
    )
    assert run.status is RunStatus.RUNNING


def test_the_run_fails_naming_its_first_hard_failure_once_every_step_is_finished() -> None:
    steps = (plan("a"), plan("b"), plan("c", "a"))
    given = [requested(*steps), queued("a", 1), queued("b", 1), RUN_STARTED]
    given += [started("a", 2), started("b", 2), failed("a", 3)]
    given += [run_event("StepSkipped", 3, step="c", reason="a failed")]
    spec().given(*given).when(
        lambda r: r.fail_step("b", attempt=1, exit_code=1, reason="exit status 1", at=at(4))
    ).then(failed("b", 4, duration_ms=2000), run_event("RunFailed", 4, reason="a failed", step="a"))


def test_a_tolerated_failure_does_not_fail_the_run() -> None:
    given = [*BUILT, *step_ran("unit", 4), queued("lint", 4), started("lint", 5)]
    run = (
        spec()
        .given(*given)
        .when(lambda r: r.fail_step("lint", attempt=1, exit_code=1, reason="style", at=at(6)))
        .then(failed("lint", 6, reason="style"))
    )
    assert run.ready_steps() == ("deploy",)
    spec().given(*given, failed("lint", 6, reason="style"), *step_ran("deploy", 7)[:2]).when(
        lambda r: r.succeed_step("deploy", attempt=1, at=at(9))
    ).then(succeeded("deploy", 9), run_event("RunSucceeded", 9))


def test_a_timed_out_attempt_with_retries_left_is_queued_again() -> None:
    given = [requested(plan("build", retries=1), plan("test", "build")), *BUILD_RUNNING[1:]]
    run = (
        spec()
        .given(*given)
        .when(lambda r: r.time_out_step("build", attempt=1, metrics={"cpu_s": 9.5}, at=at(4)))
        .then(
            timed_out("build", 4, duration_ms=2000, metrics={"cpu_s": 9.5}),
            queued("build", 4, attempt=2),
        )
    )
    assert (run.steps["build"].status, run.steps["build"].attempt) == (StepStatus.QUEUED, 2)
    assert run.metric_totals == {"cpu_s": 9.5}


def test_the_last_attempt_timing_out_ends_the_step_timed_out_and_fails_the_run() -> None:
    run = (
        spec()
        .given(*BUILD_RUNNING)
        .when(lambda r: r.time_out_step("build", attempt=1, outputs={"half": "done"}, at=at(5)))
        .then(
            timed_out("build", 5, duration_ms=3000, outputs={"half": "done"}),
            run_event("StepSkipped", 5, step="test", reason="build timed out"),
            run_event("RunFailed", 5, reason="build timed out", step="build"),
        )
    )
    build = run.steps["build"]
    assert (build.status, build.reason, build.exit_code) == (
        StepStatus.TIMED_OUT,
        "timed out after 600s",
        None,
    )
    assert (build.duration_ms, build.outputs, build.finished_at) == (3000, {"half": "done"}, at(5))
    assert (run.status, run.failure) == (RunStatus.FAILED, "build timed out")


def test_a_step_that_may_fail_may_time_out_and_its_dependants_go_ahead() -> None:
    given = [*BUILT, *step_ran("unit", 4), queued("lint", 4), started("lint", 5)]
    run = (
        spec()
        .given(*given)
        .when(lambda r: r.time_out_step("lint", attempt=1, at=at(6)))
        .then(timed_out("lint", 6))
    )
    assert run.ready_steps() == ("deploy",)
    spec().given(*given, timed_out("lint", 6), *step_ran("deploy", 7)[:2]).when(
        lambda r: r.succeed_step("deploy", attempt=1, at=at(9))
    ).then(succeeded("deploy", 9), run_event("RunSucceeded", 9))


def test_a_step_timing_out_while_its_run_is_cancelling_neither_retries_nor_skips() -> None:
    given = [requested(plan("build", retries=3), plan("test", "build")), *BUILD_RUNNING[1:]]
    given.append(run_event("RunCancelRequested", 3, actor="bob", reason=""))
    given.append(run_event("StepCancelled", 3, step="test", reason="run cancelled"))
    run = (
        spec()
        .given(*given)
        .when(lambda r: r.time_out_step("build", attempt=1, at=at(4)))
        .then(timed_out("build", 4, duration_ms=2000), run_event("RunCancelled", 4))
    )
    assert run.status is RunStatus.CANCELLED


def test_a_stale_runner_timing_out_an_old_attempt_learns_it_is_stale() -> None:
    given = [requested(plan("build", retries=1)), *BUILD_RUNNING[1:], failed("build", 3)]
    given += [queued("build", 3, attempt=2), started("build", 4, attempt=2)]
    spec().given(*given).when(lambda r: r.time_out_step("build", attempt=1, at=at(5))).then_raises(
        AttemptMismatch, current=2, got=1
    )


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda r: r.succeed_step("build", attempt=1, exit_code=1, at=at(3)), "exit_code"),
        (
            lambda r: r.fail_step("build", attempt=1, exit_code=256, reason="x", at=at(3)),
            "exit_code",
        ),
        (lambda r: r.fail_step("build", attempt=1, reason=" ", at=at(3)), "reason"),
        (
            lambda r: r.succeed_step("build", attempt=1, metrics={"cost": -1}, at=at(3)),
            "metrics.cost",
        ),
        (
            lambda r: r.succeed_step("build", attempt=1, metrics={"c": math.nan}, at=at(3)),
            "metrics.c",
        ),
        (lambda r: r.succeed_step("build", attempt=1, metrics={"c": True}, at=at(3)), "metrics.c"),
        (
            lambda r: r.succeed_step(
                "build", attempt=1, metrics={f"m{i}": 1 for i in range(65)}, at=at(3)
            ),
            "metrics",
        ),
        (
            lambda r: r.succeed_step(
                "build", attempt=1, outputs={f"k{i}": "" for i in range(65)}, at=at(3)
            ),
            "outputs",
        ),
        (
            lambda r: r.succeed_step("build", attempt=1, outputs={"k": "é" * 2049}, at=at(3)),
            "outputs.k",
        ),
        (lambda r: r.succeed_step("build", attempt=1, outputs={"k": 1}, at=at(3)), "outputs.k"),
        (lambda r: r.start_step("build", attempt=1, runner=" ", at=at(3)), "runner"),
        (lambda r: r.succeed_step("build", attempt=1, at=at(3).replace(tzinfo=None)), "at"),
    ],
)
def test_a_step_report_with_an_invalid_value_is_refused(command, field: str) -> None:
    spec().given(*BUILD_RUNNING).when(command).then_raises(InvalidValue, field=field)


def test_a_report_about_a_stale_attempt_is_refused() -> None:
    given = [requested(plan("build", retries=1)), queued("build", 1), RUN_STARTED]
    given += [started("build", 2), failed("build", 3), queued("build", 3, attempt=2)]
    spec().given(*given).when(
        lambda r: r.fail_step("build", attempt=1, reason="runner_lost", at=at(4))
    ).then_raises(AttemptMismatch, step="build", current=2, got=1)


def test_starting_an_attempt_that_is_not_queued_is_refused() -> None:
    spec().given(requested(*BUILD_TEST), queued("build", 1)).when(
        lambda r: r.start_step("build", attempt=2, at=at(2))
    ).then_raises(AttemptMismatch, current=1, got=2)


STEP_COMMANDS = {
    "queue": lambda step: lambda r: r.queue_step(step, at=at(10)),
    "start": lambda step: lambda r: r.start_step(step, attempt=1, at=at(10)),
    "succeed": lambda step: lambda r: r.succeed_step(step, attempt=1, at=at(10)),
    "fail": lambda step: lambda r: r.fail_step(step, attempt=1, reason="x", at=at(10)),
    "time out": lambda step: lambda r: r.time_out_step(step, attempt=1, at=at(10)),
}
LEGAL = {
    "queue": ("pending", {"queued", "running"}, "queue a step of"),
    "start": ("queued", {"queued", "running"}, "start a step of"),
    "succeed": ("running", {"running", "cancelling"}, "finish a step of"),
    "fail": ("running", {"running", "cancelling"}, "finish a step of"),
    "time out": ("running", {"running", "cancelling"}, "finish a step of"),
}


@pytest.mark.parametrize(
    ("attempted", "status"),
    [(a, s) for a in STEP_COMMANDS for s in STEP_IN if s != LEGAL[a][0]],
)
def test_every_illegal_step_transition_is_refused(attempted: str, status: str) -> None:
    history, step, run_status = STEP_IN[status]
    _, run_allows, run_attempted = LEGAL[attempted]
    # The run is asked first: a step of a run that does not allow the command is not looked at.
    expected = (
        ("step", status, attempted)
        if run_status in run_allows
        else ("run", run_status, run_attempted)
    )
    error = (
        spec().given(*history).when(STEP_COMMANDS[attempted](step)).then_raises(IllegalTransition)
    )
    assert (error.aggregate, error.current_state, error.attempted) == expected


def test_a_step_that_ran_cannot_be_started_again_so_one_runner_runs_an_attempt() -> None:
    spec().given(*BUILD_RUNNING).when(
        lambda r: r.start_step("build", attempt=1, runner="r2", at=at(3))
    ).then_raises(IllegalTransition, aggregate="step", current_state="running", attempted="start")


@pytest.mark.parametrize("status", ["cancelling", "succeeded", "failed", "cancelled", "timed_out"])
def test_no_step_is_queued_or_started_once_the_run_is_cancelling_or_finished(status: str) -> None:
    for command, attempted in [
        (lambda r: r.queue_step("test", at=at(10)), "queue a step of"),
        (lambda r: r.start_step("test", attempt=1, at=at(10)), "start a step of"),
    ]:
        spec().given(*RUN_IN[status]).when(command).then_raises(
            IllegalTransition, aggregate="run", current_state=status, attempted=attempted
        )
    assert spec().given(*RUN_IN[status]).state.ready_steps() == ()


@pytest.mark.parametrize(
    "status", ["queued", "running", *("succeeded", "failed", "cancelled", "timed_out")]
)
def test_a_step_is_cancelled_only_while_its_run_is_cancelling(status: str) -> None:
    spec().given(*RUN_IN[status]).when(
        lambda r: r.cancel_step("build", attempt=1, reason="SIGTERM", at=at(10))
    ).then_raises(
        IllegalTransition, aggregate="run", current_state=status, attempted="cancel a step of"
    )


def test_cancelling_a_step_that_is_not_running_is_an_illegal_transition() -> None:
    spec().given(*RUN_IN["cancelling"]).when(
        lambda r: r.cancel_step("test", attempt=1, reason="SIGTERM", at=at(10))
    ).then_raises(
        IllegalTransition, aggregate="step", current_state="cancelled", attempted="cancel"
    )
