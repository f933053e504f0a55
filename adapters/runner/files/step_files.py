"""Before a step: its workspace, downloads and cache; after it: artifacts, cache, workspace.

Object keys (bucket `flowledger-artifacts`): `runs/<run>/artifacts/<step>` and
`runs/<run>/workspaces/<step>`; caches (bucket `flowledger-caches`):
`<project>/<pipeline>/<branch>/<key>`. A step's artifact is its one named file as it is
(format `file`) when `artifacts` is one plain path to a file, else a tar of what the globs
match (format `tar`). Each store is recorded on the run through the API: name, size,
sha256, object key, retention; never the content.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from nats.js import JetStreamContext

from adapters.runner.api import RunnerApi
from adapters.runner.files.packing import (
    copy_folder,
    entries,
    matched,
    pack_folder,
)
from adapters.runner.files.step_cache import RECORD_RETRY_S, StepCache
from adapters.runner.files.transfers import FilesFailed, Transfers
from adapters.runner.files.workspaces import RunFolders
from adapters.runner.git_mirror import lend_copies, make_self_contained
from adapters.streaming.jobs import Job, JobFiles
from adapters.streaming.objects import (
    ARTIFACTS_BUCKET,
    Missing,
    Stored,
    bucket,
    download_file,
    put_file,
    stat,
)
from domain.step_files import is_plain_path

log = logging.getLogger(__name__)


def artifact_key(run_id: object, step: str) -> str:
    return f"runs/{run_id}/artifacts/{step}"


def workspace_key(run_id: object, step: str) -> str:
    return f"runs/{run_id}/workspaces/{step}"


class StepFiles:
    def __init__(
        self,
        job: Job,
        files: JobFiles,
        *,
        js: JetStreamContext,
        api: RunnerApi,
        note: Callable[[str], None],
        folders: RunFolders,
        max_bytes: int,
        record_key: str,
    ) -> None:
        self.job, self.files, self._js, self._api = job, files, js, api
        self._note, self._folders, self._record_key = note, folders, record_key
        self._transfers = Transfers(js, folders, job.run_id, max_bytes)
        self._cache = (
            None
            if files.cache is None
            else StepCache(job, files, self._transfers, api=api, note=note, record_key=record_key)
        )
        self.work = folders.step(job.run_id, job.step)

    def interrupt(self) -> None:
        """Stop the transfer under way (the step was cancelled): within a chunk it fails with
        TransferStopped, and what it had sent or written is removed."""
        self._transfers.interrupt()

    # Before

    async def prepare(self) -> Path:
        job, files = self.job, self.files
        self.work = await self._folders.fresh_step(job.run_id, job.step)
        if files.workspace == "inherit":
            for need in files.needs:
                self._transfers.check_stopped()
                await self._inherit(need)
        for name in files.download:
            self._transfers.check_stopped()
            await self._download(name)
        if self._cache is not None:
            self._transfers.check_stopped()
            await self._cache.restore(self.work)
        return self.work

    async def _inherit(self, need: str) -> None:
        # A step a failed-only retry carried over left its workspace in the retried run.
        run_id = self.files.needs_from.get(need, self.job.run_id)
        left = self._folders.left_here(run_id, need)
        if left is not None:
            await asyncio.to_thread(copy_folder, left, self.work)
            await asyncio.to_thread(lend_copies, self.work)  # its checkout borrows too
            return
        key = workspace_key(run_id, need)
        try:
            await self._transfers.fetch_tar(ARTIFACTS_BUCKET, key, self.work)
        except Missing:
            left_nowhere = f"the workspace {need} left is neither on this runner nor stored"
            raise FilesFailed(left_nowhere) from None
        self._note(f"workspace of {need} restored from the object store (it ran elsewhere)")

    async def _download(self, name: str) -> None:
        key = artifact_key(self.job.run_id, name)
        try:
            found = await stat(await bucket(self._js, ARTIFACTS_BUCKET), key)
        except Missing:
            raise FilesFailed(f"artifact {name} was not uploaded (or has expired)") from None
        self._note(f"artifact {name}: downloading {found.size} bytes")
        if found.description.startswith("file:"):
            target = self.work / found.description.removeprefix("file:")
            if not _inside(target, self.work):
                raise FilesFailed(f"artifact {name} names a path outside the workspace")
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            await download_file(self._js, ARTIFACTS_BUCKET, key, target, stop=self._transfers.stop)
        else:
            await self._transfers.fetch_tar(ARTIFACTS_BUCKET, key, self.work)
        self._note(f"artifact {name} downloaded ({found.size} bytes)")

    # After

    async def finish(self, status: str) -> None:
        """Keep what the step made: artifacts unless it was stopped, cache on success, and
        its workspace for the steps that need it. A stopped step uploads nothing, but its
        folder stays for the steps on this runner that still run after it (`always()`,
        `cancelled()`): they see it as it was left, as GitHub's cleanup steps do."""
        try:
            if status in ("succeeded", "failed") and self.files.artifacts:
                self._transfers.check_stopped()
                await self._upload_artifact()
            if status == "succeeded" and self._cache is not None:
                self._transfers.check_stopped()
                await self._cache.save(self.work)
            if self.files.dependents:
                self._transfers.check_stopped()
                await self._upload_workspace()
        finally:
            # One file made: less than a thread hand-off costs.
            self._folders.mark_done(self.job.run_id, self.job.step)

    async def _upload_artifact(self) -> None:
        job, patterns = self.job, self.files.artifacts
        key = artifact_key(job.run_id, job.step)
        store = await bucket(self._js, ARTIFACTS_BUCKET)
        single = self.work / patterns[0]
        if len(patterns) == 1 and is_plain_path(patterns[0]) and await _is_file(single):
            size = (await asyncio.to_thread(single.stat)).st_size
            self._transfers.check_size(size, "artifact")
            self._note(f"artifact {job.step}: uploading {patterns[0]} ({size} bytes)")
            stored = await put_file(store, key, single, description=f"file:{patterns[0]}",
                                    stop=self._transfers.stop)  # fmt: skip
            path, form = patterns[0], "file"
        else:
            found = await asyncio.to_thread(self._entries, patterns)
            if not found:
                self._note(f"artifacts: nothing matched {', '.join(patterns)}: none uploaded")
                return
            stored = await self._transfers.put_tar(store, key, self.work, found, "artifact")
            path, form = "", "tar"
        await self._record_artifact(stored, kind="artifact", form=form, path=path,
                                    days=self.files.retention_days)  # fmt: skip
        self._note(f"artifact {job.step} uploaded: {stored.size} bytes, sha256 {stored.sha256}")

    async def _upload_workspace(self) -> None:
        job = self.job
        scratch = await asyncio.to_thread(self._folders.scratch, job.run_id)
        # A checkout borrowing this runner's mirror would be broken elsewhere: own it first.
        await asyncio.to_thread(make_self_contained, self.work)
        with tempfile.NamedTemporaryFile(dir=scratch, suffix=".tar") as archive:
            size = await asyncio.to_thread(pack_folder, self.work, Path(archive.name))
            self._transfers.check_size(size, "workspace")
            store = await bucket(self._js, ARTIFACTS_BUCKET)
            stored = await put_file(store, workspace_key(job.run_id, job.step),
                                    Path(archive.name), description="tar",
                                    stop=self._transfers.stop)  # fmt: skip
        await self._record_artifact(stored, kind="workspace", form="tar", path="",
                                    days=self.files.workspace_retention_days)  # fmt: skip

    # Helpers

    def _entries(self, patterns: tuple[str, ...]) -> list[Path]:
        return entries(self.work, matched(self.work, patterns))

    async def _record_artifact(
        self, stored: Stored, *, kind: str, form: str, path: str, days: int
    ) -> None:
        body = {
            "step": self.job.step, "attempt": self.job.attempt, "kind": kind, "format": form,
            "path": path, "size": stored.size, "sha256": stored.sha256,
            "object_key": stored.key, "retention_days": days,
        }  # fmt: skip
        path = f"/api/v1/pipeline-runs/{self.job.run_id}/artifacts"
        key = f"{self._record_key}:{kind}"
        await self._api.post(path, body, key=key, retry_for_s=RECORD_RETRY_S)


async def _is_file(path: Path) -> bool:
    return await asyncio.to_thread(lambda: path.is_file() and not path.is_symlink())


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
