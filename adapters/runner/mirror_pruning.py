"""Removing a runner's repository mirrors (adapters/runner/git_mirror.py) nobody needs.

A mirror not used for `max_age_s` goes; and while all of them together are bigger than
`max_bytes`, the least recently used go first. "Used" is its last checkout (the mirror
folder's modification time, set by `git_mirror.lend`). A mirror is never removed while a
checkout holds its lock (taken here without waiting: a busy one is skipped), nor while a
repository borrows its objects: each checkout records its repository beside the mirror
(`<mirror>.borrowers/`), and a recorded repository still borrows while its
`.git/objects/info/alternates` names the mirror (a workspace removed or made
self-contained no longer does, and its record goes). A record younger than
`SETTLING_S` counts even before its alternates file is written. A later checkout of a
removed mirror's repository clones it afresh.

Runs at the runner's start, then every `every_s` (`prune_forever`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from adapters.runner.git_mirror import try_lock

log = logging.getLogger(__name__)

SETTLING_S = 600.0
"""How long a new borrower record holds the mirror before its alternates file must exist."""


@dataclass(frozen=True)
class Mirror:
    path: Path
    last_used: float
    size: int


def mirrors(root: Path) -> list[Mirror]:
    """The mirrors under `root`, least recently used first."""
    found = []
    with contextlib.suppress(FileNotFoundError):
        for path in root.glob("*.git"):
            with contextlib.suppress(OSError):
                found.append(Mirror(path, path.stat().st_mtime, _size(path)))
    return sorted(found, key=lambda mirror: mirror.last_used)


def prune(root: Path, *, max_age_s: float, max_bytes: int, now: float) -> list[Path]:
    """Remove the mirrors under `root` unused for `max_age_s` and, least recently used
    first, those past `max_bytes` all together (0: no cap); the removed ones."""
    found = mirrors(root)
    total = sum(mirror.size for mirror in found)
    removed = []
    for mirror in found:
        too_old = now - mirror.last_used > max_age_s
        too_big = 0 < max_bytes < total
        if not (too_old or too_big):
            break  # the rest were used later still
        if _remove(mirror.path, now):
            removed.append(mirror.path)
            total -= mirror.size
    return removed


async def prune_forever(
    root: Path, *, max_age_s: float, max_bytes: int, every_s: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            removed = await asyncio.to_thread(
                prune, root, max_age_s=max_age_s, max_bytes=max_bytes, now=time.time()
            )
            if removed:
                log.info("removed %d unused repository mirror(s) from %s", len(removed), root)
        except Exception:  # a full disk or odd permissions must not stop the runner
            log.exception("pruning the repository mirrors in %s failed", root)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


def _remove(mirror: Path, now: float) -> bool:
    fd = try_lock(mirror)
    if fd is None:
        return False  # a checkout is using it
    try:
        if _borrowed(mirror, now):
            return False
        shutil.rmtree(mirror.with_suffix(".borrowers"), ignore_errors=True)
        shutil.rmtree(mirror, ignore_errors=True)
        mirror.with_suffix(".lock").unlink(missing_ok=True)  # still held: see try_lock
        return True
    finally:
        os.close(fd)


def _borrowed(mirror: Path, now: float) -> bool:
    """Whether a recorded repository still borrows the mirror's objects; the records of
    those that no longer do are removed."""
    objects = str(mirror / "objects")
    borrowed = False
    with contextlib.suppress(FileNotFoundError):
        for record in mirror.with_suffix(".borrowers").iterdir():
            with contextlib.suppress(OSError):
                if now - record.stat().st_mtime < SETTLING_S:
                    borrowed = True
                    continue
                alternates = Path(record.read_text()) / ".git" / "objects" / "info" / "alternates"
                with contextlib.suppress(FileNotFoundError):
                    if objects in alternates.read_text().splitlines():
                        borrowed = True
                        continue
                record.unlink()
    return borrowed


def _size(folder: Path) -> int:
    total = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(parent, name)).st_size
    return total
