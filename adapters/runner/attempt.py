"""Runs one step attempt to its end (exit, timeout, or a stop request) and says how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from adapters.runner.checkout import CheckedOut, CheckoutFailed, check_out
from adapters.runner.files.step_files import StepFiles
from adapters.runner.logship import LogShipper
from adapters.runner.outputs import read_outputs
from adapters.runner.process import StepProcess, Workspace, step_environment
from adapters.runner.watch import StopWatch
from adapters.streaming.jobs import Job

REASON_MAX = 500
DRAIN_S = 5.0
"""After the step ends, how long its last output may take to come out of the pipe."""
TRANSFER_STOP_S = 10.0
"""How long a stopped transfer may take to notice (it checks at every chunk) before it is
cancelled outright."""

Status = Literal["succeeded", "failed", "timed_out", "cancelled"]
T = TypeVar("T")
ABORTED_UPLOAD = "stopped keeping the step's files (the upload was aborted: nothing partial kept)"


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    exit_code: int | None
    """None: the process never exited by itself (stopped, or never started)."""
    reason: str
    duration_ms: int
    outputs: dict[str, str] = {}
    checkout: CheckedOut | None = None


async def run_attempt(
    job: Job,
    *,
    shipper: LogShipper,
    watch: StopWatch,
    runner_id: str,
    work_dir: Path | None,
    kill_grace_s: float,
    secret_env: Mapping[str, str] | None = None,
    files: StepFiles | None = None,
) -> Outcome:
    loop = asyncio.get_running_loop()
    work = None
    if files is not None:
        try:
            work = await _transfer(files, files.prepare(), watch)
        except TransferInterrupted:
            shipper.note(f"{watch.reason}: stopped fetching the step's files; the step did not run")
            return Outcome(
                status="cancelled" if watch.cancel else "failed", exit_code=None,
                reason=watch.reason, duration_ms=0,
            )  # fmt: skip
        except Exception as exc:  # any failure to get its files fails the attempt, with why
            return _files_failed(shipper, f"could not prepare the step's files: {exc}")
    workspace = Workspace(work_dir, str(job.job_id), work)
    env = step_environment(
        os.environ,
        step_env={**job.env, **(secret_env or {})},
        parameters=job.parameters,
        runner_vars={
            **job.context,
            "FLOWLEDGER_RUN_ID": str(job.run_id),
            "FLOWLEDGER_PIPELINE_ID": str(job.pipeline_id),
            "FLOWLEDGER_STEP": job.step,
            "FLOWLEDGER_ATTEMPT": str(job.attempt),
            "FLOWLEDGER_RUNNER_ID": runner_id,
            "FLOWLEDGER_OUTPUTS": str(workspace.outputs),
            "FLOWLEDGER_OUTPUT": str(workspace.outputs),
            "FLOWLEDGER_WORKSPACE": str(workspace.work),
        },
    )
    try:
        checked_out = None
        if job.checkout is not None:
            try:
                checked_out = await _check_out(
                    job, workspace, shipper, watch, secret_env, mirrors_in(work_dir)
                )
            except CheckoutFailed as exc:
                shipper.note(f"checkout failed: {exc}")
                return Outcome(
                    status="failed", exit_code=None, reason=f"checkout failed: {exc}",
                    duration_ms=0,
                )  # fmt: skip
            if checked_out is None:  # stopped (cancel, run ended) before the command ran
                return Outcome(
                    status="cancelled" if watch.cancel else "failed", exit_code=None,
                    reason=watch.reason, duration_ms=0,
                )  # fmt: skip
        started = loop.time()
        try:
            process = await StepProcess.start(workspace, job.run, env)
        except OSError as exc:
            shipper.note(f"could not start bash: {exc}")
            return Outcome(
                status="failed", exit_code=None, reason=f"could not start: {exc}", duration_ms=0,
                checkout=checked_out,
            )  # fmt: skip
        pump = asyncio.create_task(_pump(process, shipper), name=f"output-{job.step}")
        status, reason = await _until_done(process, job, watch, shipper, kill_grace_s)
        duration_ms = round((loop.time() - started) * 1000)
        process.kill_leftovers()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pump, DRAIN_S)
        outputs, problems = read_outputs(workspace.outputs)
        # Outputs enter the run's events, kept forever: masked like the log.
        outputs = {key: shipper.mask(value) for key, value in outputs.items()}
        for problem in problems:
            shipper.note(problem)
        exit_code = process.returncode if status in ("succeeded", "failed") else None
        if files is not None:
            stopped_before = watch.stopped.is_set()  # then nothing is uploaded
            try:
                await _transfer(files, files.finish(status), watch)
            except TransferInterrupted:
                if not stopped_before:
                    shipper.note(f"{watch.reason}: {ABORTED_UPLOAD}")
                status = "cancelled" if watch.cancel else "failed"
                reason, exit_code = watch.reason, None
            except Exception as exc:  # the step ran, but what it made was not kept
                failed = _files_failed(shipper, f"could not keep the step's files: {exc}")
                if status == "succeeded":
                    status, reason, exit_code = "failed", failed.reason, None
        return Outcome(
            status=status,
            exit_code=exit_code,
            reason=reason,
            duration_ms=duration_ms,
            outputs=outputs,
            checkout=checked_out,
        )
    finally:
        await workspace.remove()


async def _check_out(
    job: Job,
    workspace: Workspace,
    shipper: LogShipper,
    watch: StopWatch,
    secret_env: Mapping[str, str] | None,
    mirrors: Path,
) -> CheckedOut | None:
    """The checkout, within the step's timeout; None if the step is stopped meanwhile."""
    assert job.checkout is not None
    token = None
    if job.checkout.token_secret is not None:
        token = (secret_env or {}).get(job.checkout.token_secret)
        if token is None:
            raise CheckoutFailed(f"no value for its token secret {job.checkout.token_secret}")
    fetch = asyncio.create_task(
        check_out(job.checkout, workspace.work, note=shipper.note, token=token,
                  private=workspace.root, mirrors=mirrors, project=str(job.project_id))
    )  # fmt: skip
    stopped = asyncio.create_task(watch.stopped.wait())
    try:
        await asyncio.wait(
            {fetch, stopped}, timeout=job.timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopped.cancel()
    if fetch.done():
        return fetch.result()
    fetch.cancel()  # kills the git process
    with contextlib.suppress(asyncio.CancelledError, CheckoutFailed):
        await fetch
    if watch.stopped.is_set():
        shipper.note(f"{watch.reason}: checkout stopped")
        return None
    raise CheckoutFailed(f"not done within the step's timeout_s ({job.timeout_s}s)")


class TransferInterrupted(Exception):
    """The step was stopped (a cancel, its run ended) while its files were moving."""


async def _transfer(files: StepFiles, work: Coroutine[Any, Any, T], watch: StopWatch) -> T:
    """`work` (fetching or keeping the step's files) unless the step is stopped first: then
    the transfer is interrupted (within a chunk, its partial bytes removed) and
    TransferInterrupted raised once it has stopped."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.create_task(watch.stopped.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return task.result()
    files.interrupt()
    _, pending = await asyncio.wait({task}, timeout=TRANSFER_STOP_S)
    if pending:  # stuck on the broker: cancelled instead (the object's meta is never sent)
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise TransferInterrupted(watch.reason)


def mirrors_in(work_dir: Path | None) -> Path:
    """Where this runner keeps its repository mirrors (adapters/runner/git_mirror.py)."""
    return (work_dir or Path(tempfile.gettempdir())) / "flowledger-git-mirrors"


def _files_failed(shipper: LogShipper, reason: str) -> Outcome:
    shipper.note(reason)
    return Outcome(status="failed", exit_code=None, reason=reason[:REASON_MAX], duration_ms=0)


async def _until_done(
    process: StepProcess, job: Job, watch: StopWatch, shipper: LogShipper, grace_s: float
) -> tuple[Status, str]:
    exited = asyncio.create_task(process.wait())
    stopped = asyncio.create_task(watch.stopped.wait())
    try:
        await asyncio.wait(
            {exited, stopped}, timeout=job.timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopped.cancel()
    if exited.done():
        code = exited.result()
        if code == 0:
            return "succeeded", ""
        if code < 0:
            return "failed", f"killed by {_signal_name(-code)}"
        return "failed", f"exit code {code}"
    if watch.stopped.is_set():
        shipper.note(f"{watch.reason}: stopping the step (SIGTERM, SIGKILL after {grace_s:g}s)")
        await process.stop(grace_s)
        return ("cancelled" if watch.cancel else "failed"), watch.reason
    shipper.note(f"timed out after {job.timeout_s}s: stopping the step (SIGTERM)")
    await process.stop(grace_s)
    return "timed_out", f"timed out after {job.timeout_s}s"


async def _pump(process: StepProcess, shipper: LogShipper) -> None:
    while data := await process.read():
        shipper.feed(data)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
