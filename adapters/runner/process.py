"""One step attempt as an OS process: a fresh folder, its environment, `bash -e`, its own group.

The step runs in a new session, so it and everything it starts form one process group that
a cancel or a timeout stops as a whole: SIGTERM first, SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from adapters.runner.removal import remove_tree

READ_BYTES = 256 * 1024
PIPE_BYTES = 1024 * 1024
"""The step's output pipe (Linux's default is 64 KiB): a step may write ahead while the runner
masks and ships, and the runner then reads it in fewer, larger pieces, which costs less per byte
(bench/secrets.py, 20 secrets masked: about a quarter less runner CPU per MB). Where the kernel
refuses it (fs.pipe-max-size, or the user's fs.pipe-user-pages-soft used up), the default stays."""
PARAM_PREFIX = "FLOWLEDGER_PARAM_"
RUNNER_ONLY_PREFIX = "FLOWLEDGER_"
"""The runner's own settings (its API key among them) are never passed on to a step."""


def watch_children_by_pidfd() -> None:
    """On Python 3.11, learn of a step's exit from a pidfd in the event loop rather than from a
    thread started per step to wait for it (asyncio's default there): about 0.2 ms less runner
    CPU per step, and no thread hand-off on the way to the step's end. Python 3.12 does this
    by itself where the kernel has pidfds (Linux 5.3+); elsewhere the default stays."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # the kernel is too old, or a sandbox refuses it
        return
    asyncio.set_child_watcher(asyncio.PidfdChildWatcher())


class Workspace:
    """The step's script and outputs file, in a private folder `<root>`; the step works in
    `work` when given (the run's folder for the step), else in `<root>/work`."""

    def __init__(self, parent: Path | None, job_id: str, work: Path | None = None) -> None:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f"flowledger-{job_id[:8]}-", dir=parent))
        if work is None:
            work = self.root / "work"
            work.mkdir()
        self.work = work
        self.script = self.root / "step.sh"
        self.outputs = self.root / "outputs"
        self.outputs.touch()

    async def remove(self) -> None:
        """The private folder gone (not `work` when it was given: the run's folders keep it)."""
        await remove_tree(self.root)


def step_environment(
    inherited: Mapping[str, str],
    *,
    step_env: Mapping[str, str],
    parameters: Mapping[str, str],
    runner_vars: Mapping[str, str],
) -> dict[str, str]:
    """The runner's environment without FLOWLEDGER_*, then parameters, step env, job facts.

    Each parameter is `FLOWLEDGER_PARAM_<name>` (the name as the pipeline declares it); the
    step's own `env` may refer to it as `$FLOWLEDGER_PARAM_<name>` in its commands.
    """
    env = {k: v for k, v in inherited.items() if not k.startswith(RUNNER_ONLY_PREFIX)}
    env.update({f"{PARAM_PREFIX}{name}": value for name, value in parameters.items()})
    env.update(step_env)
    env.update(runner_vars)
    return env


class StepProcess:
    """A running `bash -e step.sh`; its stdout and stderr share one pipe, so order is kept."""

    def __init__(self, process: asyncio.subprocess.Process, output: asyncio.StreamReader) -> None:
        self._process = process
        self._output = output
        self.pid = process.pid

    @classmethod
    async def start(cls, workspace: Workspace, script: str, env: Mapping[str, str]) -> StepProcess:
        workspace.script.write_text(script, encoding="utf-8")
        # The runner's own pipe rather than asyncio's, so that its size can be set.
        read_end, write_end = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # refused, or not Linux
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        try:
            process = await asyncio.create_subprocess_exec(
                "bash",
                "-e",
                str(workspace.script),
                cwd=workspace.work,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_end,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)  # the step's copy stays open: output ends when all of them close
        output = asyncio.StreamReader(limit=READ_BYTES)
        await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(output), os.fdopen(read_end, "rb", buffering=0)
        )
        return cls(process, output)

    async def read(self) -> bytes:
        """The next bytes of output; b"" once every holder of the pipe has closed it."""
        return await self._output.read(READ_BYTES)

    async def wait(self) -> int:
        return await self._process.wait()

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def stop(self, grace_s: float) -> None:
        """SIGTERM to the whole group, then SIGKILL if the step is still there after `grace_s`."""
        self._signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._process.wait(), grace_s)
        except TimeoutError:
            self._signal_group(signal.SIGKILL)
            await self._process.wait()
        # Whatever the step left behind in its group goes too (background jobs, `sleep &`).
        self.kill_leftovers()

    def kill_leftovers(self) -> None:
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        # The group id is the step's pid (new session); gone already is fine.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
