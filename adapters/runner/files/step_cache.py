"""A step's cache: restored before it in GitHub's order of keys and branches, saved after it
succeeds (unless its own key was restored exactly), and each outcome recorded on the run.

Objects live in the `flowledger-caches` bucket as `<project>/<pipeline>/<branch>/<key>`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.runner.api import RunnerApi
from adapters.runner.files.hashfiles import evaluate_key
from adapters.runner.files.packing import entries, matched
from adapters.runner.files.transfers import FilesFailed, Transfers
from adapters.streaming.jobs import Job, JobFiles
from adapters.streaming.objects import (
    CACHES_BUCKET,
    Missing,
    Stored,
    bucket,
    newest_with_prefix,
    stat,
)
from domain.errors import InvalidValue

RECORD_RETRY_S = 120.0


class StepCache:
    def __init__(
        self,
        job: Job,
        files: JobFiles,
        transfers: Transfers,
        *,
        api: RunnerApi,
        note: Callable[[str], None],
        record_key: str,
    ) -> None:
        assert files.cache is not None
        self.job, self.files, self.cache, self.transfers = job, files, files.cache, transfers
        self._api, self._note, self._record_key = api, note, record_key
        self.exact = False
        """Its own key was restored on its own branch: saving again would change nothing."""
        self.key = ""

    async def restore(self, work: Path) -> None:
        """`key` itself, then each `restore_keys` prefix (the newest entry that starts with it),
        on the run's branch, then the same on the default branch: GitHub's order."""
        files, cache = self.files, self.cache
        try:
            key = await asyncio.to_thread(evaluate_key, cache.key, work)
            prefixes = [await asyncio.to_thread(evaluate_key, t, work)
                        for t in cache.restore_keys]  # fmt: skip
        except InvalidValue as exc:
            raise FilesFailed(f"cache key: {exc}") from None
        self.key = key
        store = await bucket(self.transfers.js, CACHES_BUCKET)
        for branch in dict.fromkeys((files.branch, files.default_branch)):
            found, prefix = await self._entry(store, branch, key, prefixes)
            if found is None:
                continue
            await self.transfers.fetch_tar(CACHES_BUCKET, found.key, work)
            matched_key = found.key.removeprefix(self._object(branch, ""))
            self.exact = branch == files.branch and not prefix
            how = f" by restore key {prefix}" if prefix else ""
            self._note(f"cache hit: {matched_key}{how} (branch {branch})")
            await self._record(outcome="restored", key=key, branch=branch, hit=True,
                               exact=self.exact, object_key=found.key,
                               matched_key=matched_key, restore_key=prefix)  # fmt: skip
            return
        self._note(f"cache miss: {key}")
        await self._record(outcome="restored", key=key, branch=files.branch, hit=False)

    async def save(self, work: Path) -> None:
        if self.exact:
            return  # an exact hit: the entry holds these paths already
        found = await asyncio.to_thread(lambda: entries(work, matched(work, self.cache.paths)))
        if not found:
            self._note("cache: nothing matched its paths: not saved")
            return
        branch = self.files.branch
        object_key = self._object(branch, self.key)
        store = await bucket(self.transfers.js, CACHES_BUCKET)
        stored = await self.transfers.put_tar(
            store, object_key, work, found, "cache", description=_description(branch)
        )
        await self._record(outcome="saved", key=self.key, branch=branch,
                           object_key=object_key, size=stored.size,
                           sha256=stored.sha256)  # fmt: skip
        self._note(f"cache saved: {self.key} ({stored.size} bytes)")

    async def _entry(
        self, store: Any, branch: str, key: str, prefixes: list[str]
    ) -> tuple[Stored | None, str]:
        """The entry for `key` on `branch`, else the newest one a prefix finds (and which)."""
        with contextlib.suppress(Missing):
            return await stat(store, self._object(branch, key)), ""
        for prefix in prefixes:
            if not prefix:
                continue  # a prefix of only hashFiles of nothing would match every entry
            found = await newest_with_prefix(
                store,
                self._object(branch, prefix),
                # A name is <project>/<pipeline>/<branch>/<key> and both may hold '/': an
                # entry saved with its branch in the description must be of this branch.
                description=lambda d, b=branch: d in ("tar", _description(b)),
            )
            if found is not None:
                return found, prefix
        return None, ""

    def _object(self, branch: str, key: str) -> str:
        job = self.job
        return f"{job.project_id}/{job.pipeline_id}/{branch}/{key}"

    async def _record(self, *, outcome: str, **fields: Any) -> None:
        body = {"step": self.job.step, "attempt": self.job.attempt, "outcome": outcome, **fields}
        await self._api.post(f"/api/v1/pipeline-runs/{self.job.run_id}/caches", body,
                             key=f"{self._record_key}:cache-{outcome}",
                             retry_for_s=RECORD_RETRY_S)  # fmt: skip


def _description(branch: str) -> str:
    return f"tar branch={branch}"
