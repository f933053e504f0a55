"""Files in NATS JetStream's object store, streamed in chunks both ways: never whole in memory.

Writing uses nats-py's `ObjectStore.put` with a file (it reads one chunk at a time in a thread
and hashes as it goes). Reading does not use `ObjectStore.get`: that either collects the whole
object in memory or pushes chunks as fast as the server sends them. `read_object` pulls a
few chunks at a time from an ephemeral pull consumer, so a slow reader (an HTTP client, a
disk) holds at most `PULL_BATCH` chunks.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import msgspec
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ObjectMeta, ObjectMetaOptions, StorageType
from nats.js.api import ObjectStoreConfig as _BucketConfig
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

ARTIFACTS_BUCKET = "flowledger-artifacts"
CACHES_BUCKET = "flowledger-caches"
CHUNK_BYTES = 256 * 1024
PULL_BATCH = 16
FETCH_WAIT_S = 10.0
_DIGEST = "SHA-256="


class Stored(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    size: int
    sha256: str
    """Lowercase hex, as the run's events record it."""
    description: str = ""


class Missing(Exception):
    """No such object (or bucket)."""


class Corrupt(Exception):
    """What was read does not match the object's sha256, or stopped short."""


async def bucket(js: JetStreamContext, name: str) -> ObjectStore:
    """The object store `name`, created (file storage) when it does not exist yet."""
    try:
        return await js.object_store(name)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_object_store(name, config=_BucketConfig(storage=StorageType.FILE))


class TransferStopped(Exception):
    """A transfer was asked to stop (its step was cancelled) before it was done."""


class _Stoppable:
    """A file nats-py reads chunk by chunk (in a thread) that fails once `stop` is set.

    Failing with an Exception, not a cancel, is what makes `ObjectStore.put` purge the chunks
    it already sent; the object's meta is only published after the last chunk, so a stopped
    upload leaves nothing visible (and an older object under the name stays as it was).
    """

    def __init__(self, file: BinaryIO, stop: threading.Event) -> None:
        self._file, self._stop = file, stop

    def readinto(self, buffer: bytearray) -> int:
        if self._stop.is_set():
            raise TransferStopped("stopped while uploading")
        return self._file.readinto(buffer)  # type: ignore[attr-defined, no-any-return]


async def put_file(
    store: ObjectStore,
    key: str,
    path: Path,
    *,
    description: str = "",
    stop: threading.Event | None = None,
) -> Stored:
    """Upload `path` in CHUNK_BYTES chunks; its size and sha256 (computed while sending).

    With `stop`: TransferStopped once it is set, within a chunk, the chunks sent removed."""
    meta = ObjectMeta(
        name=key,
        description=description,
        options=ObjectMetaOptions(max_chunk_size=CHUNK_BYTES),
    )
    with path.open("rb") as file:
        source = file if stop is None else _Stoppable(file, stop)
        info = await store.put(key, source, meta=meta)  # type: ignore[arg-type]
    return Stored(key=key, size=info.size or 0, sha256=_hex(info.digest), description=description)


async def stat(store: ObjectStore, key: str) -> Stored:
    try:
        info = await store.get_info(key)
    except (ObjectNotFoundError, NotFoundError):
        raise Missing(key) from None
    if info.deleted:
        raise Missing(key)
    return Stored(
        key=key, size=info.size or 0, sha256=_hex(info.digest), description=info.description or ""
    )


async def newest_with_prefix(
    store: ObjectStore, prefix: str, *, description: Callable[[str], bool] = lambda _: True
) -> Stored | None:
    """The most recently stored object whose name starts with `prefix` (and whose description
    `description` accepts), if any.

    The object store has no index by name prefix: this reads every object's metadata (one
    message per object, not its chunks) and filters here.
    """
    try:
        infos = await store.list(ignore_deletes=True)
    except NotFoundError:
        return None
    found = [
        i
        for i in infos
        if i.name.startswith(prefix) and not i.deleted and description(i.description or "")
    ]
    if not found:
        return None
    info = max(found, key=lambda i: (_moment(i.mtime), i.name))
    return Stored(
        key=info.name, size=info.size or 0, sha256=_hex(info.digest),
        description=info.description or "",
    )  # fmt: skip


def _moment(mtime: str | None) -> datetime:
    try:
        return datetime.fromisoformat(mtime or "")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


async def delete(store: ObjectStore, key: str) -> bool:
    """Remove `key`; False when it was not there."""
    try:
        await store.delete(key)
    except (ObjectNotFoundError, NotFoundError):
        return False
    return True


async def read_object(
    js: JetStreamContext, bucket_name: str, key: str, *, start: int = 0, end: int | None = None
) -> AsyncIterator[bytes]:
    """The bytes of `key` from `start` to `end` (exclusive), in pieces of at most one chunk.

    Read whole, its sha256 is checked at the end (Corrupt if it differs); a range cannot be.
    """
    store = await bucket(js, bucket_name)
    info = await store.get_info(key)
    size = info.size or 0
    end = size if end is None else min(end, size)
    if start >= end:
        return
    whole = start == 0 and end == size
    digest = hashlib.sha256() if whole else None
    subject = f"$O.{bucket_name}.C.{info.nuid}"
    stream = f"OBJ_{bucket_name}"
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, inactive_threshold=60.0)
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    offset = 0
    try:
        while offset < end:
            try:
                messages = await sub.fetch(PULL_BATCH, timeout=FETCH_WAIT_S)
            except (NatsTimeout, TimeoutError):
                raise Corrupt(f"{key}: stopped at byte {offset} of {size}") from None
            for message in messages:
                data = message.data
                if digest is not None:
                    digest.update(data)
                piece_start, offset = offset, offset + len(data)
                if offset <= start or piece_start >= end:
                    continue
                yield data[max(start - piece_start, 0) : len(data) - max(offset - end, 0)]
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, sub._consumer)
    if digest is not None and digest.hexdigest() != _hex(info.digest):
        raise Corrupt(f"{key}: sha256 differs from the stored one")


async def download_file(
    js: JetStreamContext,
    bucket_name: str,
    key: str,
    path: Path,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Write `key` to `path` (checked against its sha256); the bytes written.

    With `stop`: TransferStopped once it is set, within a chunk. Stopped or failed, the
    partial file is removed."""
    written = 0
    try:
        with path.open("wb") as file:
            async for piece in read_object(js, bucket_name, key):
                if stop is not None and stop.is_set():
                    raise TransferStopped("stopped while downloading")
                file.write(piece)
                written += len(piece)
    except (ObjectNotFoundError, NotFoundError, BucketNotFoundError):
        path.unlink(missing_ok=True)  # noqa: ASYNC240 (one unlink: not worth a thread)
        raise Missing(key) from None
    except BaseException:
        path.unlink(missing_ok=True)  # noqa: ASYNC240
        raise
    return written


def _hex(digest: str | None) -> str:
    if not digest:
        return hashlib.sha256(b"").hexdigest()
    if digest.upper().startswith(_DIGEST):
        digest = digest[len(_DIGEST) :]
    return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
