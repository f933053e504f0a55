"""Runners as real processes (`flowledger runner`): killed outright, stopped gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.run_dispatch import RUNNER_LOST
from domain.runner import runner_id_for
from tests.helpers import unique_id
from tests.integration.runner.conftest import label, runner_settings, shared, stack  # noqa: F401
from tests.integration.runner.stack import Stack, kill_quietly, wait_for_file, written

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc, signals groups")


def runner_env(stack: Stack, label: str) -> dict[str, str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    settings = stack.settings
    return env | {
        "FLOWLEDGER_API_URL": stack.api_url,
        "FLOWLEDGER_NATS_URL": str(settings.nats_url),
        "FLOWLEDGER_RUNNER_TOKEN": stack.runner_token,
        "FLOWLEDGER_RUNNER_LABELS": label,
        "FLOWLEDGER_DISPATCH_STREAM": settings.dispatch_stream,
        "FLOWLEDGER_RUNNER_HEARTBEAT_INTERVAL_S": str(settings.runner_heartbeat_interval_s),
        "FLOWLEDGER_RUNNER_KILL_GRACE_S": "1",
        "FLOWLEDGER_LOG_FORMAT": "text",
    }


@contextlib.asynccontextmanager
async def runner_process(
    stack: Stack,  # noqa: F811
    label: str,  # noqa: F811
    name: str,
    log: Path,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`flowledger runner` in a process of its own, registered before this yields."""
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "adapters.cli.main", "runner", "--name", name,
            cwd=log.parent, env=runner_env(stack, label), stdout=out, stderr=out,
        )  # fmt: skip
    try:
        await stack.wait_for_event(str(runner_id_for(name)), ("RunnerRegistered",))
        yield process
    finally:
        kill_quietly(process.pid)
        await process.wait()


async def test_a_runner_killed_mid_step_loses_its_attempt_to_another_runner(
    stack: Stack,  # noqa: F811
    label: str,  # noqa: F811
    shared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    first, second = unique_id("first-")[:30], unique_id("second-")[:30]
    script = (
        f'echo "$FLOWLEDGER_RUNNER_ID $FLOWLEDGER_ATTEMPT" >> {shared}/ran\n'
        f'if [ "$FLOWLEDGER_ATTEMPT" = 1 ]; then sleep 300 & echo $! > {shared}/pid; wait; fi\n'
        "echo done\n"
    )
    pipeline = await stack.pipeline([{"name": "work", "run": script, "retries": 1,
                                      "labels": [label]}])  # fmt: skip
    orphan = None
    try:
        async with runner_process(stack, label, first, tmp_path / "first.log") as doomed:
            run_id = await stack.trigger(pipeline)
            orphan = int(await wait_for_file(shared / "pid"))
            async with runner_process(stack, label, second, tmp_path / "second.log"):
                doomed.send_signal(signal.SIGKILL)
                assert await stack.finished(run_id) == "RunSucceeded", (
                    tmp_path / "second.log"
                ).read_text()
    finally:
        if orphan is not None:  # its runner died without stopping it, as on a lost machine
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(orphan), signal.SIGKILL)

    ran = written(shared / "ran").split("\n")[:-1]
    assert ran == [f"{runner_id_for(first)} 1", f"{runner_id_for(second)} 2"]
    events = await stack.events(run_id)
    failed = next(d for _, t, d in events if t == "StepFailed")
    assert (failed["attempt"], failed["reason"]) == (1, RUNNER_LOST)
    started = [(d["attempt"], d["runner"]) for _, t, d in events if t == "StepStarted"]
    assert started == [(1, str(runner_id_for(first))), (2, str(runner_id_for(second)))]


async def test_sigterm_lets_the_running_step_finish_then_deregisters(
    stack: Stack,  # noqa: F811
    label: str,  # noqa: F811
    shared: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    name = unique_id("graceful-")[:30]
    script = f"echo started > {shared}/started\nsleep 1\necho finished\n"
    pipeline = await stack.pipeline([{"name": "short", "run": script, "labels": [label]}])
    async with runner_process(stack, label, name, tmp_path / "runner.log") as runner:
        run_id = await stack.trigger(pipeline)
        await wait_for_file(shared / "started")
        runner.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await runner.wait()
    assert code == 0, (tmp_path / "runner.log").read_text()
    # It finished and reported the step before it went: nothing was left for a reaper.
    assert await stack.finished(run_id) == "RunSucceeded"
    await stack.wait_for_event(str(runner_id_for(name)), ("RunnerDeregistered",))
    text = "".join(d["text"] for _, t, d in await stack.events(run_id) if t == "LogChunkAppended")
    assert text == "finished\n"


async def test_a_runner_with_a_bad_key_says_so_and_exits_1(
    stack: Stack,  # noqa: F811
    label: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = runner_env(stack, label) | {"FLOWLEDGER_RUNNER_TOKEN": "flk_not-a-key"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", "runner", "--name", unique_id("bad-")[:30],
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        _, err = await process.communicate()
    assert process.returncode == 1
    assert "did not take the runner: 401" in err.decode()
