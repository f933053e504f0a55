"""A step's moves to and from the object store: bounded in size, stopped at any chunk."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from pathlib import Path
from typing import Any
from uuid import UUID

from nats.js import JetStreamContext

from adapters.runner.files.packing import pack, total_size, unpack
from adapters.runner.files.workspaces import RunFolders
from adapters.streaming.objects import Stored, TransferStopped, download_file, put_file


class FilesFailed(Exception):
    """The step's files could not be prepared or kept: the attempt fails with this reason."""


class Transfers:
    def __init__(
        self, js: JetStreamContext, folders: RunFolders, run_id: UUID, max_bytes: int
    ) -> None:
        self.js, self.folders, self.run_id, self.max_bytes = js, folders, run_id, max_bytes
        self.stop = threading.Event()

    def interrupt(self) -> None:
        """Stop the transfer under way (the step was cancelled): within a chunk it fails with
        TransferStopped, and what it had sent or written is removed."""
        self.stop.set()

    def check_stopped(self) -> None:
        if self.stop.is_set():
            raise TransferStopped("stopped")

    def check_size(self, size: int, what: str) -> None:
        if size > self.max_bytes:
            raise FilesFailed(f"{what} of {size} bytes is over the runner's limit of "
                              f"{self.max_bytes} bytes")  # fmt: skip

    async def put_tar(
        self,
        store: Any,
        key: str,
        work: Path,
        found: list[Path],
        what: str,
        *,
        description: str = "tar",
    ) -> Stored:
        """`found` (paths under `work`) packed into one tar and stored under `key`."""
        self.check_size(await asyncio.to_thread(total_size, found), what)
        scratch = await asyncio.to_thread(self.folders.scratch, self.run_id)
        with tempfile.NamedTemporaryFile(dir=scratch, suffix=".tar") as archive:
            await asyncio.to_thread(pack, work, found, Path(archive.name))
            return await put_file(
                store, key, Path(archive.name), description=description, stop=self.stop
            )

    async def fetch_tar(self, bucket_name: str, key: str, work: Path) -> None:
        """The tar stored under `key`, unpacked into `work`."""
        scratch = await asyncio.to_thread(self.folders.scratch, self.run_id)
        # Not deleted by the temporary file itself: a failed download removes it first.
        with tempfile.NamedTemporaryFile(dir=scratch, suffix=".tar", delete=False) as archive:
            archive_path = Path(archive.name)
        try:
            await download_file(self.js, bucket_name, key, archive_path, stop=self.stop)
            await asyncio.to_thread(unpack, archive_path, work)
        finally:
            archive_path.unlink(missing_ok=True)  # noqa: ASYNC240
