"""Specs for a run's dispatch: ready steps become jobs once per attempt; one runner per attempt."""

from __future__ import annotations

import pytest
from run_facts import (
    BUILD_RUNNING,
    BUILD_TEST,
    RUN_ID,
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
    succeeded,
)

from domain.errors import (
    AttemptAlreadyStarted,
    AttemptMismatch,
    IllegalTransition,
    InvalidValue,
)
from domain.run_dispatch import RUNNER_LOST, job_id_for

LABELS = {"build": "linux", "test": "linux", "lint": "arm"}


def dispatched(step: str, t: float, attempt: int = 1, label: str = "linux"):
    return run_event(
        "StepDispatched",
        t,
        step=step,
        attempt=attempt,
        label=label,
        job_id=job_id_for(RUN_ID, step, attempt),
    )


def test_a_job_id_is_the_same_for_the_same_attempt_and_differs_otherwise() -> None:
    assert job_id_for(RUN_ID, "build", 1) == job_id_for(RUN_ID, "build", 1)
    assert len({job_id_for(RUN_ID, s, a) for s in ("build", "test") for a in (1, 2)}) == 4


def test_a_new_run_queues_and_dispatches_its_ready_steps_only() -> None:
    three = (plan("build"), plan("lint"), plan("test", "build"))
    run = (
        spec()
        .given(requested(*three))
        .when(lambda r: r.dispatch_ready(LABELS, at=at(1)))
        .then(
            queued("build", 1),
            queued("lint", 1),
            dispatched("build", 1),
            dispatched("lint", 1, label="arm"),
        )
    )
    assert run.steps["build"].dispatched and not run.steps["test"].dispatched


def test_dispatching_again_decides_nothing_so_a_replay_sends_no_second_job() -> None:
    history = [requested(*BUILD_TEST), queued("build", 1), dispatched("build", 1)]
    spec().given(*history).when(lambda r: r.dispatch_ready(LABELS, at=at(2))).then()
    spec().given(*history).when(
        lambda r: r.dispatch_step("build", attempt=1, label="linux", at=at(2))
    ).then()


def test_a_step_becomes_a_job_once_what_it_needs_succeeded() -> None:
    history = [
        requested(*BUILD_TEST),
        queued("build", 1),
        dispatched("build", 1),
        RUN_STARTED,
        started("build", 2),
        succeeded("build", 3),
    ]
    spec().given(*history).when(lambda r: r.dispatch_ready(LABELS, at=at(4))).then(
        queued("test", 4), dispatched("test", 4)
    )


def test_a_retried_attempt_is_a_new_job() -> None:
    retried = (plan("build", retries=1), plan("test", "build"))
    history = [
        requested(*retried),
        queued("build", 1),
        dispatched("build", 1),
        RUN_STARTED,
        started("build", 2),
        failed("build", 3, reason=RUNNER_LOST, exit_code=None),
        queued("build", 3, attempt=2),
    ]
    spec().given(*history).when(lambda r: r.dispatch_ready(LABELS, at=at(4))).then(
        dispatched("build", 4, attempt=2)
    )


def test_dispatching_one_attempt_by_hand() -> None:
    spec().given(requested(*BUILD_TEST), queued("build", 1)).when(
        lambda r: r.dispatch_step("build", attempt=1, label="gpu", at=at(2))
    ).then(dispatched("build", 2, label="gpu"))


def test_dispatching_a_stale_attempt_is_refused() -> None:
    history = [requested(plan("build", retries=1)), queued("build", 1), RUN_STARTED]
    history += [started("build", 2), failed("build", 3), queued("build", 3, attempt=2)]
    spec().given(*history).when(
        lambda r: r.dispatch_step("build", attempt=1, label="linux", at=at(4))
    ).then_raises(AttemptMismatch, current=2, got=1)


def test_dispatching_a_step_that_is_not_queued_is_refused() -> None:
    spec().given(*BUILD_RUNNING).when(
        lambda r: r.dispatch_step("build", attempt=1, label="linux", at=at(4))
    ).then_raises(IllegalTransition, current_state="running", attempted="dispatch")
    spec().given(requested(*BUILD_TEST)).when(
        lambda r: r.dispatch_step("build", attempt=0, label="linux", at=at(4))
    ).then_raises(IllegalTransition, current_state="pending", attempted="dispatch")


def test_a_step_without_a_label_is_refused() -> None:
    spec().given(requested(*BUILD_TEST)).when(lambda r: r.dispatch_ready({}, at=at(1))).then_raises(
        InvalidValue, field="labels"
    )


@pytest.mark.parametrize("status", ["cancelling", "succeeded", "failed", "cancelled", "timed_out"])
def test_a_run_that_is_ending_dispatches_nothing(status: str) -> None:
    spec().given(*RUN_IN[status]).when(lambda r: r.dispatch_ready(LABELS, at=at(20))).then()


def test_a_second_runner_starting_a_running_attempt_is_refused() -> None:
    error = (
        spec()
        .given(*BUILD_RUNNING)
        .when(lambda r: r.start_step("build", attempt=1, runner="r2", at=at(3)))
        .then_raises(AttemptAlreadyStarted, step="build", attempt=1, runner="r1")
    )
    assert error.code == "attempt_already_started"


def test_the_same_runner_saying_it_started_again_decides_nothing() -> None:
    spec().given(*BUILD_RUNNING).when(
        lambda r: r.start_step("build", attempt=1, runner="r1", at=at(3))
    ).then()


def test_a_lost_runners_step_is_retried_as_a_new_attempt() -> None:
    retried = (plan("build", retries=1), plan("test", "build"))
    history = [requested(*retried), queued("build", 1), RUN_STARTED, started("build", 2)]
    run = (
        spec()
        .given(*history)
        .when(lambda r: r.fail_step("build", attempt=1, reason=RUNNER_LOST, at=at(40)))
        .then(
            run_event(
                "StepFailed",
                40,
                step="build",
                attempt=1,
                exit_code=None,
                reason=RUNNER_LOST,
                duration_ms=38000,
                outputs={},
                metrics={},
            ),
            queued("build", 40, attempt=2),
        )
    )
    assert run.undispatched() == ("build",)


def test_a_late_report_from_the_lost_runner_is_stale() -> None:
    retried = (plan("build", retries=1), plan("test", "build"))
    history = [requested(*retried), queued("build", 1), RUN_STARTED, started("build", 2)]
    history += [failed("build", 40, reason=RUNNER_LOST, exit_code=None)]
    history += [queued("build", 40, attempt=2)]
    spec().given(*history).when(
        lambda r: r.succeed_step("build", attempt=1, at=at(41))
    ).then_raises(AttemptMismatch, current=2, got=1)
