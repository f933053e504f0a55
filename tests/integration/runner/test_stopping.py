"""Steps that do not end by themselves: retried failures, timeouts, cancels (the process goes)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.runner.stack import Stack, alive, eventually, runners, wait_for_file

# The step's long sleep runs in the background, so both it and bash must go for it to end.
SLEEPER = "sleep 300 &\necho $$ $! > {pids}\necho sleeping\nwait\n"


async def test_a_failed_attempt_is_retried_and_its_log_goes_on_in_the_same_channel(
    stack: Stack, label: str, shared: Path
) -> None:
    flaky = (
        f'echo "attempt $FLOWLEDGER_ATTEMPT"\n'
        f"if [ ! -e {shared}/failed-once ]; then touch {shared}/failed-once; exit 7; fi\n"
        'echo "passed=yes" >> "$FLOWLEDGER_OUTPUTS"\n'
    )
    pipeline = await stack.pipeline([{"name": "flaky", "run": flaky, "retries": 2,
                                      "labels": [label]}])  # fmt: skip
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunSucceeded"

    events = await stack.events(run_id)
    ended = [(t, d["attempt"]) for _, t, d in events if t in ("StepFailed", "StepSucceeded")]
    assert ended == [("StepFailed", 1), ("StepSucceeded", 2)]
    assert next(d for _, t, d in events if t == "StepSucceeded")["outputs"] == {"passed": "yes"}
    chunks = [d for _, t, d in events if t == "LogChunkAppended"]
    assert "".join(c["text"] for c in chunks) == "attempt 1\nattempt 2\n"
    assert [c["seq"] for c in chunks] == list(range(1, len(chunks) + 1))


async def test_a_step_past_its_timeout_is_stopped_and_recorded_timed_out(
    stack: Stack, label: str, shared: Path
) -> None:
    pids = shared / "pids"
    pipeline = await stack.pipeline(
        [{"name": "slow", "run": SLEEPER.format(pids=pids), "timeout_s": 1, "labels": [label]}]
    )
    async with runners(stack.runner_config(label, kill_grace_s=1.0)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunFailed"

    shell, sleeper = map(int, (await wait_for_file(pids)).split())
    assert not alive(shell) and not alive(sleeper)
    events = await stack.events(run_id)
    ended = [(t, d) for _, t, d in events if t in ("StepFailed", "StepTimedOut", "RunFailed")]
    assert [t for t, _ in ended] == ["StepTimedOut", "RunFailed"]
    assert ended[0][1]["timeout_s"] == 1 and ended[0][1]["duration_ms"] >= 1000
    assert ended[1][1]["reason"] == "slow timed out"
    text = "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")
    assert "sleeping\n" in text and "timed out after 1s" in text
    run = await stack.viewed(run_id, lambda run: run["status"] == "failed")
    assert [(s["name"], s["status"], s["reason"]) for s in run["steps"]] == [
        ("slow", "timed_out", "timed out after 1s")
    ]


async def test_a_cancel_stops_the_running_step_and_the_run_ends_cancelled(
    stack: Stack, label: str, shared: Path
) -> None:
    pids = shared / "pids"
    pipeline = await stack.pipeline(
        [
            {"name": "long", "run": SLEEPER.format(pids=pids), "labels": [label]},
            {"name": "after", "run": "echo never", "labels": [label]},
        ]
    )
    # A grace far beyond the test: the step dies of SIGTERM, not of the SIGKILL after it.
    async with runners(stack.runner_config(label, kill_grace_s=120.0)):
        run_id = await stack.trigger(pipeline)
        shell, sleeper = map(int, (await wait_for_file(pids)).split())
        assert alive(shell) and alive(sleeper)
        answer = await stack.http.post(
            f"/api/v1/pipeline-runs/{run_id}/cancel", json={"reason": "enough"},
            headers=stack.admin,
        )  # fmt: skip
        assert answer.status_code == 202, answer.text
        assert await stack.finished(run_id) == "RunCancelled"
        await eventually(lambda: not alive(shell) and not alive(sleeper))

    events = await stack.events(run_id)
    cancelled = {d["step"]: d["reason"] for _, t, d in events if t == "StepCancelled"}
    assert cancelled["long"].startswith("run cancelled by admin: enough")
    assert cancelled["after"] == "run cancelled"
    text = "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")
    assert "stopping the step (SIGTERM" in text
