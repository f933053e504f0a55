"""A step's output pipe: real `bash -e` processes, read as the runner reads them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.runner.process import PIPE_BYTES, StepProcess, Workspace

ENV = {"PATH": "/usr/bin:/bin"}


def _exists(path: Path) -> bool:
    return path.exists()


async def _read_all(process: StepProcess) -> bytes:
    out = []
    while data := await process.read():
        out.append(data)
    return b"".join(out)


async def test_a_step_writes_ahead_of_a_busy_runner_up_to_the_pipe_s_size(tmp_path: Path) -> None:
    # Linux's default pipe (64 KiB) would block this write until the runner read.
    ahead = PIPE_BYTES * 3 // 4
    script = f"head -c {ahead} /dev/zero | tr '\\0' x\ntouch ../written\necho end\n"
    workspace = Workspace(tmp_path, "ahead0001")
    process = await StepProcess.start(workspace, script, ENV)
    written = workspace.root / "written"
    for _ in range(600):  # nothing is read meanwhile
        if _exists(written):
            break
        await asyncio.sleep(0.05)

    assert _exists(written)
    assert await _read_all(process) == b"x" * ahead + b"end\n"
    assert await process.wait() == 0


async def test_output_and_errors_come_whole_and_in_order_then_the_end(tmp_path: Path) -> None:
    script = "for i in $(seq 1 3000); do echo out $i; echo err $i >&2; done\nexit 3\n"
    process = await StepProcess.start(Workspace(tmp_path, "order0001"), script, ENV)

    text = (await _read_all(process)).decode()

    expected = "".join(f"out {i}\nerr {i}\n" for i in range(1, 3001))
    assert text == expected
    assert await process.read() == b""
    assert await process.wait() == 3


async def test_output_ends_when_a_left_behind_job_holding_the_pipe_is_stopped(
    tmp_path: Path,
) -> None:
    script = "echo started\nsleep 300 &\n"
    process = await StepProcess.start(Workspace(tmp_path, "leftover1"), script, ENV)
    assert await process.wait() == 0
    assert await process.read() == b"started\n"

    process.kill_leftovers()

    assert await asyncio.wait_for(process.read(), 30) == b""
