"""The runtime file a running `flowledger up` leaves in its data folder, so the other
subcommands reach its servers instead of refusing a folder that is in use.

`<data dir>/runtime.json` holds the pid, API, database and NATS URLs of the live `up`. It is
written atomically, readable by its owner only (the URLs may carry passwords), removed at exit,
and ignored when stale: its pid is dead, is not the one holding the data folder's lock, or the
file belongs to another user.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from adapters.platform.embedded import ServerUrls, embedded_servers
from adapters.platform.settings import Settings

RUNTIME_FILE = "runtime.json"
LOCK_FILE = "flowledger.lock"  # DataDirLock's file: it names the pid holding the folder


class Runtime(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    api_url: str
    database_url: str
    nats_url: str


@contextlib.contextmanager
def runtime_file(data_dir: Path, runtime: Runtime) -> Iterator[Path]:
    """Publish `runtime` in `data_dir` for the block's lifetime."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / RUNTIME_FILE
    # mkstemp creates the file 0600; the rename makes it appear whole or not at all.
    fd, temp = tempfile.mkstemp(prefix=".runtime-", dir=data_dir)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(msgspec.json.encode(runtime))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    try:
        yield path
    finally:
        # Another `up` may have replaced it after ours was killed: only ours is removed.
        found = _read(path)
        if found is not None and found.pid == runtime.pid:
            with contextlib.suppress(OSError):
                path.unlink()


def running(data_dir: Path) -> Runtime | None:
    """The live `up` on `data_dir`, or None when there is none or its file is stale."""
    path = data_dir / RUNTIME_FILE
    try:
        if path.stat().st_uid != os.getuid():
            return None
    except OSError:
        return None
    found = _read(path)
    if found is None or not _alive(found.pid) or _lock_holder(data_dir) != found.pid:
        return None
    return found


@contextlib.contextmanager
def servers(settings: Settings, *, log: Callable[[str], None]) -> Iterator[ServerUrls]:
    """The servers a one-shot subcommand uses: the configured URLs, else those of the `up`
    running on the data folder, else embedded servers started for the block."""
    if not (settings.database_url and settings.nats_url):
        live = running(settings.data_dir)
        if live is not None:
            yield ServerUrls(
                settings.database_url or live.database_url, settings.nats_url or live.nats_url
            )
            return
    with embedded_servers(settings, log=log) as urls:
        yield urls


def api_url(settings: Settings) -> str | None:
    """The API of the `up` running on the data folder, if any."""
    live = running(settings.data_dir)
    return None if live is None else live.api_url


def _read(path: Path) -> Runtime | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=Runtime)
    except (OSError, msgspec.DecodeError):
        return None


def _lock_holder(data_dir: Path) -> int | None:
    try:
        raw = (data_dir / LOCK_FILE).read_text().strip()
    except OSError:
        return None
    return int(raw) if raw.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # alive, but another user's: not an `up` of ours
    return True
