"""Runners execute real steps: DAG order, ordered logs, env and parameters, outputs, failures."""

from __future__ import annotations

from pathlib import Path

from tests.integration.runner.stack import Stack, runners

TRACE = 'echo "$FLOWLEDGER_STEP start $(date +%s%N)" >> {shared}/trace\n'
DONE = 'echo "$FLOWLEDGER_STEP end $(date +%s%N)" >> {shared}/trace\n'


def traced(shared: Path, body: str) -> str:
    return TRACE.format(shared=shared) + body + DONE.format(shared=shared)


def step_log(events: list, step: str) -> tuple[list[int], str]:
    chunks = [d for _, t, d in events if t == "LogChunkAppended" and d["step"] == step]
    return [c["seq"] for c in chunks], "".join(c["text"] for c in chunks)


async def test_a_dag_runs_in_order_and_its_logs_arrive_in_order(
    stack: Stack, label: str, shared: Path
) -> None:
    lines = 1000  # several chunks and POSTs: the order must hold across them
    noisy = (
        f"for i in $(seq 1 {lines}); do\n"
        '  if [ $((i % 3)) = 0 ]; then echo "line $i" >&2; else echo "line $i"; fi\n'
        "done\n"
    )
    pipeline = await stack.pipeline(
        [
            {"name": "prepare", "run": traced(shared, noisy), "labels": [label]},
            {"name": "build", "run": traced(shared, "sleep 0.2\n"), "needs": ["prepare"],
             "labels": [label]},
            {"name": "test", "run": traced(shared, "sleep 0.2\n"), "needs": ["prepare"],
             "labels": [label]},
        ]
    )  # fmt: skip
    async with runners(stack.runner_config(label, concurrency=2, log_chunk_bytes=1024)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunSucceeded"

    # Real order: prepare ended before either dependant started.
    trace = [line.split() for line in (shared / "trace").read_text().splitlines()]
    at = {(step, edge): int(ns) for step, edge, ns in trace}
    assert at["prepare", "end"] <= at["build", "start"]
    assert at["prepare", "end"] <= at["test", "start"]
    # Recorded order: each dependant started after prepare succeeded.
    events = await stack.events(run_id)
    position = {(t, d.get("step")): p for p, t, d in events if t.startswith("Step")}
    for step in ("build", "test"):
        assert position["StepSucceeded", "prepare"] < position["StepStarted", step]
    # stdout and stderr interleaved exactly as written, numbered 1, 2, 3... in the channel.
    seqs, text = step_log(events, "prepare")
    assert text == "".join(f"line {i}\n" for i in range(1, lines + 1))
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 3


async def test_a_step_gets_its_env_parameters_and_a_fresh_folder_and_reports_outputs(
    stack: Stack, label: str, shared: Path
) -> None:
    script = (
        'echo "greeting=$GREETING $FLOWLEDGER_PARAM_who" >> "$FLOWLEDGER_OUTPUTS"\n'
        'echo "folder=$(ls -A | wc -l)" >> "$FLOWLEDGER_OUTPUTS"\n'
        'echo "token=${FLOWLEDGER_RUNNER_TOKEN:-unset}" >> "$FLOWLEDGER_OUTPUTS"\n'
        "touch left-behind\n"
        'echo "not a pair" >> "$FLOWLEDGER_OUTPUTS"\n'
    )
    pipeline = await stack.pipeline(
        [{"name": "greet", "run": script, "env": {"GREETING": "hello"}, "labels": [label]},
         {"name": "again", "run": script, "env": {"GREETING": "hi"}, "labels": [label],
          "workspace": "clean"}],
        parameters=[{"name": "who", "type": "string", "default": "world"}],
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline, who="flowledger")
        assert await stack.finished(run_id) == "RunSucceeded"

    events = await stack.events(run_id)
    done = {d["step"]: d for _, t, d in events if t == "StepSucceeded"}
    # The second step's folder is empty again (`workspace: clean`; without it, a step starts
    # from what the steps it needs left): `left-behind` stayed in the first one's.
    assert done["greet"]["outputs"] == {
        "greeting": "hello flowledger",
        "folder": "0",
        "token": "unset",  # the runner's own key is never passed to a step
    }
    assert done["again"]["outputs"]["greeting"] == "hi flowledger"
    assert done["again"]["outputs"]["folder"] == "0"
    assert done["greet"]["metrics"]["duration_ms"] >= 0
    _, text = step_log(events, "greet")
    assert "outputs line 4: expected key=value" in text


async def test_a_failing_step_fails_the_run_and_skips_what_needs_it(
    stack: Stack, label: str
) -> None:
    pipeline = await stack.pipeline(
        [
            {"name": "compile", "run": "echo broken >&2\nexit 3\necho never", "labels": [label]},
            {"name": "ship", "run": "echo shipped", "labels": [label]},
        ]
    )
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunFailed"

    events = await stack.events(run_id)
    failed = next(d for _, t, d in events if t == "StepFailed")
    assert (failed["step"], failed["exit_code"], failed["reason"]) == ("compile", 3, "exit code 3")
    assert [d["step"] for _, t, d in events if t == "StepSkipped"] == ["ship"]
    assert step_log(events, "compile")[1] == "broken\n"
    assert not [d for _, t, d in events if t == "StepStarted" and d["step"] == "ship"]
