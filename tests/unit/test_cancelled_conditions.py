"""`cancelled()` as GitHub Actions has it: once a run is cancelled, the steps calling
`always()` or `cancelled()` are still decided (and run if their condition holds); the others
are cancelled with the run."""

from __future__ import annotations

from tests.unit.test_orchestration_domain import at, definition, finish, run_of, statuses


def pipeline() -> object:
    return definition(
        {"name": "build", "run": "make"},
        {"name": "cleanup", "run": "rm", "needs": ["build"], "if": "cancelled()"},
        {"name": "always", "run": "log", "needs": ["build"], "if": "always()"},
        {"name": "ship", "run": "ship", "needs": ["build"], "if": "success()"},
        {"name": "plain", "run": "x", "needs": ["build"]},
        {"name": "odd", "run": "y", "needs": ["build"], "if": "always() && !cancelled()"},
        {"name": "alert", "run": "page", "needs": ["build"], "if": "failure()"},
    )


def test_after_a_cancel_only_always_and_cancelled_steps_are_decided() -> None:
    run = run_of(pipeline())
    run.queue_ready(at=at(0))
    run.start_step("build", attempt=1, at=at(1))

    run.request_cancel(actor="ann", reason="stop", at=at(2))
    assert statuses(run) == {"build": "running", "cleanup": "pending", "always": "pending",
                             "ship": "cancelled", "plain": "cancelled", "odd": "pending",
                             "alert": "cancelled"}  # fmt: skip
    assert run.ready_steps() == ()  # build has not stopped yet

    run.cancel_step("build", attempt=1, reason="run cancelled by ann: stop", at=at(3))
    assert run.ready_steps() == ("cleanup", "always", "odd")
    run.queue_ready(at=at(4))
    assert statuses(run)["cleanup"] == "queued" and statuses(run)["always"] == "queued"
    assert run.steps["odd"].reason == "if: always() && !cancelled() evaluated to false"
    assert run.status.value == "cancelling"

    finish(run, "cleanup", "succeeded", 5)
    finish(run, "always", "failed", 6)
    assert run.status.value == "cancelled"


def test_a_cancel_with_nothing_running_decides_the_cleanup_at_once() -> None:
    run = run_of(
        definition(
            {"name": "wait", "run": "sleep 1"},
            {"name": "cleanup", "run": "rm", "needs": ["wait"], "if": "cancelled()"},
        )
    )
    run.queue_ready(at=at(0))
    assert statuses(run)["wait"] == "queued"  # no runner took it yet
    run.request_cancel(actor="ann", at=at(1))
    assert statuses(run) == {"wait": "cancelled", "cleanup": "pending"}
    assert run.ready_steps() == ("cleanup",)
    run.dispatch_ready({"cleanup": "linux"}, at=at(2))
    assert run.steps["cleanup"].dispatched
    finish(run, "cleanup", "succeeded", 3)
    assert run.status.value == "cancelled"


def test_a_timeout_still_cancels_every_step() -> None:
    run = run_of(pipeline())
    run.queue_ready(at=at(0))
    run.start_step("build", attempt=1, at=at(1))
    run.time_out(at=at(2))
    assert set(statuses(run).values()) == {"cancelled"}
    assert run.ready_steps() == ()
