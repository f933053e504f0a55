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
import contextlib
import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from adapters.runner.api import RunnerApi
from adapters.runner.files.hashfiles import evaluate_key
from adapters.runner.files.packing import (
    copy_folder,
    entries,
    matched,
    pack,
    pack_folder,
    total_size,
    unpack,
)
from adapters.runner.files.workspaces import RunFolders
from adapters.runner.git_mirror import lend_copies, make_self_contained
from adapters.streaming.jobs import Job, JobFiles
from adapters.streaming.objects import (
    ARTIFACTS_BUCKET,
    CACHES_BUCKET,
    Missing,
    Stored,
    TransferStopped,
    bucket,
    download_file,
    newest_with_prefix,
    put_file,
    stat,
)
from domain.errors import InvalidValue
from domain.step_files import is_plain_path

log = logging.getLogger(__name__)

RECORD_RETRY_S = 120.0


class FilesFailed(Exception):
    """The step's files could not be prepared or kept: the attempt fails with this reason."""


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
        self._note, self._folders, self._max_bytes = note, folders, max_bytes
        self._record_key = record_key
        self._cache_exact = False
        self._cache_key = ""
        self._stop = threading.Event()
        self.work = folders.step(job.run_id, job.step)

    def interrupt(self) -> None:
        """Stop the transfer under way (the step was cancelled): within a chunk it fails with
        TransferStopped, and what it had sent or written is removed."""
        self._stop.set()

    def _check_stopped(self) -> None:
        if self._stop.is_set():
            raise TransferStopped("stopped")

    # Before

    async def prepare(self) -> Path:
        job, files = self.job, self.files
        self.work = await asyncio.to_thread(self._folders.fresh_step, job.run_id, job.step)
        if files.workspace == "inherit":
            for need in files.needs:
                self._check_stopped()
                await self._inherit(need)
        for name in files.download:
            self._check_stopped()
            await self._download(name)
        if files.cache is not None:
            self._check_stopped()
            await self._restore_cache()
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
            await self._fetch_tar(ARTIFACTS_BUCKET, key)
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
            await download_file(self._js, ARTIFACTS_BUCKET, key, target, stop=self._stop)
        else:
            await self._fetch_tar(ARTIFACTS_BUCKET, key)
        self._note(f"artifact {name} downloaded ({found.size} bytes)")

    async def _restore_cache(self) -> None:
        """`key` itself, then each `restore_keys` prefix (the newest entry that starts with it),
        on the run's branch, then the same on the default branch: GitHub's order."""
        assert self.files.cache is not None
        files, cache = self.files, self.files.cache
        try:
            key = await asyncio.to_thread(evaluate_key, cache.key, self.work)
            prefixes = [await asyncio.to_thread(evaluate_key, t, self.work)
                        for t in cache.restore_keys]  # fmt: skip
        except InvalidValue as exc:
            raise FilesFailed(f"cache key: {exc}") from None
        self._cache_key = key
        store = await bucket(self._js, CACHES_BUCKET)
        for branch in dict.fromkeys((files.branch, files.default_branch)):
            found, prefix = await self._cache_entry(store, branch, key, prefixes)
            if found is None:
                continue
            await self._fetch_tar(CACHES_BUCKET, found.key)
            matched = found.key.removeprefix(self._cache_object(branch, ""))
            self._cache_exact = branch == files.branch and not prefix
            how = f" by restore key {prefix}" if prefix else ""
            self._note(f"cache hit: {matched}{how} (branch {branch})")
            await self._record_cache(outcome="restored", key=key, branch=branch, hit=True,
                                     exact=self._cache_exact, object_key=found.key,
                                     matched_key=matched, restore_key=prefix)  # fmt: skip
            return
        self._note(f"cache miss: {key}")
        await self._record_cache(outcome="restored", key=key, branch=files.branch, hit=False)

    async def _cache_entry(
        self, store: Any, branch: str, key: str, prefixes: list[str]
    ) -> tuple[Stored | None, str]:
        """The entry for `key` on `branch`, else the newest one a prefix finds (and which)."""
        with contextlib.suppress(Missing):
            return await stat(store, self._cache_object(branch, key)), ""
        for prefix in prefixes:
            if not prefix:
                continue  # a prefix of only hashFiles of nothing would match every entry
            found = await newest_with_prefix(
                store,
                self._cache_object(branch, prefix),
                # A name is <project>/<pipeline>/<branch>/<key> and both may hold '/': an
                # entry saved with its branch in the description must be of this branch.
                description=lambda d, b=branch: d in ("tar", _cache_description(b)),
            )
            if found is not None:
                return found, prefix
        return None, ""

    # After

    async def finish(self, status: str) -> None:
        """Keep what the step made: artifacts unless it was stopped, cache on success, and
        its workspace for the steps that need it. A stopped step uploads nothing, but its
        folder stays for the steps on this runner that still run after it (`always()`,
        `cancelled()`): they see it as it was left, as GitHub's cleanup steps do."""
        try:
            if status in ("succeeded", "failed") and self.files.artifacts:
                self._check_stopped()
                await self._upload_artifact()
            if status == "succeeded" and self.files.cache is not None:
                self._check_stopped()
                await self._save_cache()
            if self.files.dependents:
                self._check_stopped()
                await self._upload_workspace()
        finally:
            await asyncio.to_thread(self._folders.mark_done, self.job.run_id, self.job.step)

    async def _upload_artifact(self) -> None:
        job, patterns = self.job, self.files.artifacts
        key = artifact_key(job.run_id, job.step)
        store = await bucket(self._js, ARTIFACTS_BUCKET)
        single = self.work / patterns[0]
        if len(patterns) == 1 and is_plain_path(patterns[0]) and await _is_file(single):
            size = (await asyncio.to_thread(single.stat)).st_size
            self._check_size(size, "artifact")
            self._note(f"artifact {job.step}: uploading {patterns[0]} ({size} bytes)")
            stored = await put_file(store, key, single, description=f"file:{patterns[0]}",
                                    stop=self._stop)  # fmt: skip
            path, form = patterns[0], "file"
        else:
            found = await asyncio.to_thread(self._entries, patterns)
            if not found:
                self._note(f"artifacts: nothing matched {', '.join(patterns)}: none uploaded")
                return
            stored = await self._put_tar(store, key, found, "artifact")
            path, form = "", "tar"
        await self._record_artifact(stored, kind="artifact", form=form, path=path,
                                    days=self.files.retention_days)  # fmt: skip
        self._note(f"artifact {job.step} uploaded: {stored.size} bytes, sha256 {stored.sha256}")

    async def _save_cache(self) -> None:
        assert self.files.cache is not None
        if self._cache_exact:
            return  # an exact hit: the entry holds these paths already
        found = await asyncio.to_thread(self._entries, self.files.cache.paths)
        if not found:
            self._note("cache: nothing matched its paths: not saved")
            return
        branch = self.files.branch
        object_key = self._cache_object(branch, self._cache_key)
        store = await bucket(self._js, CACHES_BUCKET)
        stored = await self._put_tar(
            store, object_key, found, "cache", description=_cache_description(branch)
        )
        await self._record_cache(outcome="saved", key=self._cache_key, branch=branch,
                                 object_key=object_key, size=stored.size,
                                 sha256=stored.sha256)  # fmt: skip
        self._note(f"cache saved: {self._cache_key} ({stored.size} bytes)")

    async def _upload_workspace(self) -> None:
        job = self.job
        scratch = await asyncio.to_thread(self._folders.scratch, job.run_id)
        # A checkout borrowing this runner's mirror would be broken elsewhere: own it first.
        await asyncio.to_thread(make_self_contained, self.work)
        with tempfile.NamedTemporaryFile(dir=scratch, suffix=".tar") as archive:
            size = await asyncio.to_thread(pack_folder, self.work, Path(archive.name))
            self._check_size(size, "workspace")
            store = await bucket(self._js, ARTIFACTS_BUCKET)
            stored = await put_file(store, workspace_key(job.run_id, job.step),
                                    Path(archive.name), description="tar",
                                    stop=self._stop)  # fmt: skip
        await self._record_artifact(stored, kind="workspace", form="tar", path="",
                                    days=self.files.workspace_retention_days)  # fmt: skip

    # Helpers

    def _entries(self, patterns: tuple[str, ...]) -> list[Path]:
        return entries(self.work, matched(self.work, patterns))

    async def _put_tar(
        self, store: Any, key: str, found: list[Path], what: str, *, description: str = "tar"
    ) -> Stored:
        self._check_size(await asyncio.to_thread(total_size, found), what)
        scratch = await asyncio.to_thread(self._folders.scratch, self.job.run_id)
        with tempfile.NamedTemporaryFile(dir=scratch, suffix=".tar") as archive:
            await asyncio.to_thread(pack, self.work, found, Path(archive.name))
            return await put_file(
                store, key, Path(archive.name), description=description, stop=self._stop
            )

    async def _fetch_tar(self, bucket_name: str, key: str) -> None:
        scratch = await asyncio.to_thread(self._folders.scratch, self.job.run_id)
        # Not deleted by the temporary file itself: a failed download removes it first.
        with tempfile.NamedTemporaryFile(dir=scratch, suffix=".tar", delete=False) as archive:
            archive_path = Path(archive.name)
        try:
            await download_file(self._js, bucket_name, key, archive_path, stop=self._stop)
            await asyncio.to_thread(unpack, archive_path, self.work)
        finally:
            archive_path.unlink(missing_ok=True)  # noqa: ASYNC240

    def _check_size(self, size: int, what: str) -> None:
        if size > self._max_bytes:
            raise FilesFailed(f"{what} of {size} bytes is over the runner's limit of "
                              f"{self._max_bytes} bytes")  # fmt: skip

    def _cache_object(self, branch: str, key: str) -> str:
        job = self.job
        return f"{job.project_id}/{job.pipeline_id}/{branch}/{key}"

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

    async def _record_cache(self, *, outcome: str, **fields: Any) -> None:
        body = {"step": self.job.step, "attempt": self.job.attempt, "outcome": outcome, **fields}
        await self._api.post(f"/api/v1/pipeline-runs/{self.job.run_id}/caches", body,
                             key=f"{self._record_key}:cache-{outcome}",
                             retry_for_s=RECORD_RETRY_S)  # fmt: skip


def _cache_description(branch: str) -> str:
    return f"tar branch={branch}"


async def _is_file(path: Path) -> bool:
    return await asyncio.to_thread(lambda: path.is_file() and not path.is_symlink())


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
