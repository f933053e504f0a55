"""Workspaces follow a run's steps: on the same runner from its folder, on another runner from
the object store; `workspace: clean` starts empty; the folders go when the run ends (a failed
run's stay for a while)."""

from __future__ import annotations

from pathlib import Path

from adapters.runner.files.workspaces import RunFolders
from tests.integration.runner.files_support import succeeded
from tests.integration.runner.stack import Stack, eventually, runners


def notes(events: list, step: str) -> str:
    return "".join(
        d["text"] for _, t, d in events
        if t == "LogChunkAppended" and d["step"] == step and d["stream"] == "system"
    )  # fmt: skip


async def test_a_workspace_follows_its_steps_across_two_runners(
    stack: Stack, label: str, shared: Path, tmp_path: Path
) -> None:
    here, there = f"{label}-a", f"{label}-b"
    pipeline = await stack.pipeline(
        [
            {"name": "one", "run": "mkdir -p src && echo one > src/a.txt", "labels": [here]},
            {"name": "two", "run": "cat src/a.txt > src/b.txt && echo two >> src/b.txt",
             "labels": [there], "needs": ["one"]},
            {"name": "three", "run": f"cat src/b.txt > {shared}/three", "labels": [here],
             "needs": ["two"]},
            {"name": "fresh", "run": f"ls -A > {shared}/fresh", "labels": [here],
             "needs": ["one"], "workspace": "clean"},
            {"name": "same", "run": f"cat src/a.txt > {shared}/same", "labels": [here],
             "needs": ["one"]},
        ]
    )  # fmt: skip
    folders = {name: tmp_path / name for name in ("a", "b")}
    config_a = stack.runner_config(here, work_dir=folders["a"])
    config_b = stack.runner_config(there, work_dir=folders["b"])
    async with runners(config_a, config_b) as (runner_a, runner_b):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
        events = await stack.events(run_id)
        # The folders go once the run has succeeded (the runners hear of its end over NATS).
        for folder in folders.values():
            await eventually(lambda f=folder: not RunFolders(f).run(run_id).exists())  # type: ignore[misc]

    ran_on = {d["step"]: d["runner"] for _, t, d in events if t == "StepStarted"}
    assert ran_on["one"] == ran_on["three"] == str(runner_a.runner_id)
    assert ran_on["two"] == str(runner_b.runner_id) != ran_on["one"]
    assert (shared / "three").read_text() == "one\ntwo\n"
    assert (shared / "same").read_text() == "one\n"
    assert (shared / "fresh").read_text() == ""
    # Each hop to another runner went through the object store; a step on the same runner
    # copied the folder its need left there.
    assert "restored from the object store" in notes(events, "two")
    assert "restored from the object store" in notes(events, "three")
    assert "restored" not in notes(events, "same")
    stored = [d for _, t, d in events if t == "ArtifactUploaded"]
    assert {(d["name"], d["kind"]) for d in stored} == {("one", "workspace"), ("two", "workspace")}
    assert all(d["retention_days"] == 1 for d in stored)


async def test_a_failed_runs_workspace_is_kept_for_a_while(
    stack: Stack, label: str, tmp_path: Path
) -> None:
    pipeline = await stack.pipeline(
        [
            {"name": "make", "run": "echo evidence > left.txt", "labels": [label]},
            {"name": "break", "run": "exit 3", "labels": [label]},
        ]
    )
    async with runners(stack.runner_config(label, work_dir=tmp_path, workspace_keep_failed_s=0.5)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunFailed"
        folders = RunFolders(tmp_path)
        left = folders.step(run_id, "break") / "left.txt"  # type: ignore[arg-type]
        assert left.read_text() == "evidence\n"
        await eventually(lambda: not folders.run(run_id).exists())  # type: ignore[arg-type]
