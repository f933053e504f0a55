"""`flowledger replay run ID`: a run's story from the event store, one line per event."""

from __future__ import annotations

from pathlib import Path

from adapters.platform.services import Services
from commands.run_reports import LogChunk
from commands.runs import CancelRun
from domain.step_spec import StepSpec
from tests.integration.audit_integrity.auditing import flowledger
from tests.integration.read_models.conftest import Driver

STEPS = (
    StepSpec(name="build", run="make", retries=1),
    StepSpec(name="test", run="pytest", needs=("build",)),
)


async def test_the_timeline_tells_who_did_what_and_folds_logs(
    scratch_url: str, scratch_services: Services, nats_url: str, tmp_path: Path
) -> None:
    driver = Driver(scratch_services)
    pipeline = await driver.pipeline(await driver.project(), steps=STEPS)
    run = await driver.trigger(pipeline, actor="alice", ref="refs/heads/main")
    await driver.step(run, "build", "running", runner="box-7")
    await driver.logs(
        run,
        LogChunk(seq=1, text="\ncompiling the parser module with every optimisation on\n",
                 step="build"),
        LogChunk(seq=2, text="linking\n", step="build"),
        LogChunk(seq=3, text="warning: unused\n", step="build", stream="stderr"),
    )  # fmt: skip
    await driver.step(run, "build", "failed", exit_code=2, reason="make: *** [all] Error 2")
    await driver.step(run, "build", "running", attempt=2, runner="box-8")
    await driver.step(run, "build", "succeeded", attempt=2, exit_code=0, metrics={"cpu_s": 1.5})
    await driver.send(CancelRun(run_id=run, reason="not needed"), actor="bob")
    stored = await scratch_services.store.read_stream(str(run))

    result = await flowledger(
        "replay", "run", str(run), database_url=scratch_url, nats_url=nats_url, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(stored) - 2  # three chunks in a row make one line
    types = [e.type for e in stored if e.type != "LogChunkAppended"]
    types.insert(types.index("StepFailed"), "LogChunkAppended")
    assert [line.split()[4] for line in lines] == types
    requested = lines[0]
    assert requested.startswith(stored[0].data["occurred_at"][:10])
    assert " v1 " in requested and " alice " in requested
    assert f"pipeline {pipeline} v1, api trigger, ref refs/heads/main" in requested
    assert "steps build, test" in requested
    burst = next(line for line in lines if "LogChunkAppended" in line)
    first_chunk = next(e for e in stored if e.type == "LogChunkAppended")
    assert f" v{first_chunk.version}-{first_chunk.version + 2} " in burst
    assert " runner-1 " in burst
    size = sum(len(e.data["text"].encode()) for e in stored if e.type == "LogChunkAppended")
    assert f"3 chunks, {size} B on build/stderr, build/stdout, seq 1-3" in burst
    assert burst.endswith(': "compiling the parser module with every …"')  # its first line
    failed = next(line for line in lines if "StepFailed" in line)
    assert "build attempt 1, exit 2" in failed and "reason: make: *** [all] Error 2" in failed
    assert "build attempt 2 on box-8" in next(
        line for line in lines if "StepStarted" in line and "attempt 2" in line
    )
    assert "cpu_s=1.5" in next(line for line in lines if "StepSucceeded" in line)
    cancel = next(line for line in lines if "RunCancelRequested" in line)
    assert " bob " in cancel and "by bob, reason: not needed" in cancel
    assert "test: run cancelled" in next(line for line in lines if "StepCancelled" in line)


async def test_an_unknown_run_or_another_stream_is_refused(
    scratch_url: str, scratch_services: Services, nats_url: str, tmp_path: Path
) -> None:
    project = await Driver(scratch_services).project()

    unknown = await flowledger(
        "replay", "run", "6d0c5a3e-0000-4000-8000-000000000001",
        database_url=scratch_url, nats_url=nats_url, cwd=tmp_path,
    )  # fmt: skip
    not_a_run = await flowledger(
        "replay", "run", str(project), database_url=scratch_url, nats_url=nats_url, cwd=tmp_path
    )
    not_an_id = await flowledger(
        "replay", "run", "yesterday", database_url=scratch_url, nats_url=nats_url, cwd=tmp_path
    )

    assert unknown.returncode == 1 and "no run with id 6d0c5a3e" in unknown.stderr
    assert not_a_run.returncode == 1 and f"{project} is a project, not a run" in not_a_run.stderr
    assert not_an_id.returncode == 2 and "invalid UUID value" in not_an_id.stderr
