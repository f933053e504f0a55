"""`if: cancelled()` end to end: a run cancelled mid-step over HTTP, the dispatcher deciding
its steps, a real runner stopping the step and then running the cleanup, as GitHub Actions
does (steps calling always() or cancelled() still run; the others are cancelled)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.runner.stack import Stack, alive, eventually, runners, wait_for_file
from tests.integration.runner.test_stopping import SLEEPER


async def test_a_cancelled_run_runs_its_cancelled_cleanup_and_not_its_success_step(
    stack: Stack, label: str, shared: Path
) -> None:
    pids = shared / "pids"
    pipeline = await stack.pipeline(
        [
            {"name": "long", "run": SLEEPER.format(pids=pids), "labels": [label]},
            {"name": "cleanup", "needs": ["long"], "if": "cancelled()", "labels": [label],
             "run": f"echo cleaned > {shared}/cleanup"},
            {"name": "report", "needs": ["long"], "if": "${{ always() }}", "labels": [label],
             "run": f"echo reported > {shared}/report"},
            {"name": "ship", "needs": ["long"], "if": "success()", "labels": [label],
             "run": f"touch {shared}/shipped"},
            {"name": "next", "needs": ["long"], "labels": [label],
             "run": f"touch {shared}/next"},
        ]
    )  # fmt: skip
    async with runners(stack.runner_config(label, kill_grace_s=120.0)):
        run_id = await stack.trigger(pipeline)
        shell, sleeper = map(int, (await wait_for_file(pids)).split())
        answer = await stack.http.post(
            f"/api/v1/pipeline-runs/{run_id}/cancel", json={"reason": "enough"},
            headers=stack.admin,
        )  # fmt: skip
        assert answer.status_code == 202, answer.text
        assert await stack.finished(run_id) == "RunCancelled"
        await eventually(lambda: not alive(shell) and not alive(sleeper))

    assert (shared / "cleanup").read_text() == "cleaned\n"
    assert (shared / "report").read_text() == "reported\n"
    assert not (shared / "shipped").exists() and not (shared / "next").exists()
    events = await stack.events(run_id)
    cancelled = {d["step"]: d["reason"] for _, t, d in events if t == "StepCancelled"}
    assert cancelled["long"].startswith("run cancelled by admin: enough")
    assert (cancelled["ship"], cancelled["next"]) == ("run cancelled", "run cancelled")
    succeeded = {d["step"] for _, t, d in events if t == "StepSucceeded"}
    assert succeeded == {"cleanup", "report"}
    types = [t for _, t, _ in events]
    # The cleanup ran after the step it needs was stopped, and the run ended after it.
    assert types.index("RunCancelRequested") < types.index(
        "StepQueued", types.index("RunCancelRequested")
    )
    assert types[-1] == "RunCancelled"
    view = await stack.viewed(run_id, lambda r: r["status"] == "cancelled")
    assert {s["name"]: s["status"] for s in view["steps"]} == {
        "long": "cancelled", "cleanup": "succeeded", "report": "succeeded",
        "ship": "cancelled", "next": "cancelled",
    }  # fmt: skip
