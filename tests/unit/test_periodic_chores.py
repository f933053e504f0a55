"""A role's periodic chore runs at once and again after a failed round; the runner's janitor is
one such chore, so a sweep that fails (an unreadable work folder) no longer ends it."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from nats.aio.client import Client as Nats

from adapters.platform.periodic import every_until_stopped
from adapters.runner.files.workspaces import STALE_AFTER_S, Janitor, RunFolders

log = logging.getLogger(__name__)


async def until(condition: Callable[[], object]) -> None:
    """Wait (bounded) for a condition that has no event to wait on."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_failed_round_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    rounds: list[int] = []

    async def chore() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise OSError("the disk is away")
        if len(rounds) == 3:
            stop.set()

    with caplog.at_level(logging.WARNING, logger=__name__):
        await asyncio.wait_for(every_until_stopped(stop, 0.01, chore, log=log, name="chore"), 10)
    assert rounds == [0, 1, 2]
    assert [r.getMessage() for r in caplog.records] == ["chore: the disk is away"]


async def test_a_set_stop_ends_the_wait_between_rounds() -> None:
    stop = asyncio.Event()
    rounds: list[float] = []

    async def chore() -> None:
        rounds.append(time.monotonic())

    task = asyncio.create_task(every_until_stopped(stop, 3600, chore, log=log, name="chore"))
    await until(lambda: rounds)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert len(rounds) == 1


async def test_the_janitor_outlives_a_failed_sweep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folders = RunFolders(tmp_path)
    folders.root.write_text("not a folder")  # listing it fails with NotADirectoryError
    janitor = Janitor(folders, Nats(), "flowledger", keep_failed_s=0)
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="adapters.runner.files.workspaces"):
        sweeping = asyncio.create_task(janitor.sweep_forever(stop))
        await until(lambda: caplog.records)
    assert caplog.records[0].getMessage().startswith("janitor: ")
    assert not sweeping.done()
    stop.set()
    await asyncio.wait_for(sweeping, 10)


async def test_the_janitor_removes_a_stale_run_folder_at_once(tmp_path: Path) -> None:
    folders = RunFolders(tmp_path)
    stale, fresh = uuid.uuid4(), uuid.uuid4()
    for run_id in (stale, fresh):
        folders.run(run_id).mkdir(parents=True)
    old = time.time() - STALE_AFTER_S - 60
    os.utime(folders.run(stale), (old, old))
    stop = asyncio.Event()
    sweeping = asyncio.create_task(Janitor(folders, Nats(), "flowledger", 0).sweep_forever(stop))
    try:
        await until(lambda: not folders.run(stale).exists())
        assert folders.run(fresh).exists()
    finally:
        stop.set()
        await asyncio.wait_for(sweeping, 10)
