"""A run's folders on one runner: one per step, seeded from the workspaces of the steps it needs.

`<root>/flowledger-runs/<run id>/s-<step>` is a step's working folder; a `.s-<step>.done`
file beside it says the step ended and left it for its dependents. A dependent on this runner
copies it; on another runner it is restored from the workspace the step uploaded. The run's
folder goes when the run ends (`Janitor`): at once when it succeeded or was cancelled, after
`keep_failed_s` when it failed or timed out, so that someone can look at what it left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from pathlib import Path
from uuid import UUID

from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from adapters.platform.periodic import every_until_stopped
from adapters.runner.removal import remove_tree
from adapters.streaming.relay.subjects import filter_subject
from domain.run import Run

log = logging.getLogger(__name__)

FOLDER = "flowledger-runs"
KEPT_AT_ONCE = (Run.Succeeded.event_type, Run.Cancelled.event_type)
KEPT_FOR_A_WHILE = (Run.Failed.event_type, Run.TimedOut.event_type)
SWEEP_EVERY_S = 600.0
STALE_AFTER_S = 7 * 86400
"""A run folder untouched this long whose end was never heard of (the runner was down) goes."""


class RunFolders:
    def __init__(self, parent: Path | None) -> None:
        self.root = Path(parent or tempfile.gettempdir()) / FOLDER

    def run(self, run_id: UUID) -> Path:
        return self.root / str(run_id)

    def step(self, run_id: UUID, step: str) -> Path:
        return self.run(run_id) / f"s-{step}"

    def done_marker(self, run_id: UUID, step: str) -> Path:
        return self.run(run_id) / f".s-{step}.done"

    async def fresh_step(self, run_id: UUID, step: str) -> Path:
        """The step's folder, emptied (an earlier attempt's files go)."""
        folder = self.step(run_id, step)
        self.done_marker(run_id, step).unlink(missing_ok=True)
        await remove_tree(folder)
        folder.mkdir(parents=True)
        return folder

    def left_here(self, run_id: UUID, step: str) -> Path | None:
        """The folder `step` left on this runner, if it ended here."""
        return self.step(run_id, step) if self.done_marker(run_id, step).exists() else None

    def mark_done(self, run_id: UUID, step: str) -> None:
        self.done_marker(run_id, step).touch()

    def scratch(self, run_id: UUID) -> Path:
        """A folder for archives on their way in or out, on the same disk as the workspaces."""
        folder = self.run(run_id) / ".scratch"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    async def discard(self, run_id: UUID) -> None:
        """The run's folder gone, in the event loop when it holds little (`remove_tree`)."""
        await remove_tree(self.run(run_id))

    def stale(self, now: float, older_than_s: float) -> list[UUID]:
        found = []
        with contextlib.suppress(FileNotFoundError):
            for folder in self.root.iterdir():
                with contextlib.suppress(ValueError, OSError):
                    if now - folder.stat().st_mtime > older_than_s:
                        found.append(UUID(folder.name))
        return found


class Janitor:
    """Removes run folders when their runs end (heard over NATS from the relay)."""

    def __init__(self, folders: RunFolders, nc: Nats, prefix: str, keep_failed_s: float) -> None:
        self._folders, self._nc, self._prefix = folders, nc, prefix
        self._keep_failed_s = keep_failed_s
        self._subscriptions: list[Subscription] = []
        self._later: set[asyncio.TimerHandle] = set()
        self._removals: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Janitor:
        for event_type in (*KEPT_AT_ONCE, *KEPT_FOR_A_WHILE):
            subject = filter_subject(self._prefix, stream_type=Run.stream_type,
                                     event_type=event_type)  # fmt: skip
            self._subscriptions.append(await self._nc.subscribe(subject, cb=self._ended))
        return self

    async def __aexit__(self, *_: object) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        for handle in self._later:
            handle.cancel()

    async def sweep_forever(self, stop: asyncio.Event) -> None:
        await every_until_stopped(stop, SWEEP_EVERY_S, self._sweep, log=log, name="janitor")

    async def _sweep(self) -> None:
        for run_id in self._folders.stale(time.time(), STALE_AFTER_S):
            await self._folders.discard(run_id)

    async def _ended(self, msg: Msg) -> None:
        parts = msg.subject.split(".")
        try:
            run_id, event_type = UUID(parts[-2]), parts[-1]
        except (ValueError, IndexError):
            return
        if not self._folders.run(run_id).exists():
            return
        if event_type in KEPT_AT_ONCE:
            await self._folders.discard(run_id)
            return
        log.info("run %s ended %s: its workspace stays %gs at %s", run_id, event_type,
                 self._keep_failed_s, self._folders.run(run_id))  # fmt: skip
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self._keep_failed_s, self._remove_later, run_id)
        self._later.add(handle)

    def _remove_later(self, run_id: UUID) -> None:
        removal = self._folders.discard(run_id)
        self._removals.add(task := asyncio.get_running_loop().create_task(removal))
        task.add_done_callback(self._removals.discard)
