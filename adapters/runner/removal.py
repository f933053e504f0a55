"""Removing a step's or a run's folder without a thread hand-off when there is little in it.

Most folders a runner removes hold a handful of entries (a step's script and outputs file, an
empty working folder): removing them takes microseconds, less than handing the work to a
thread and back (about a quarter of the runner's CPU per step went to such hand-offs, py-spy,
bench/runner.py). A folder with more in it is removed in a thread, so that the event loop is
never held up by a large workspace.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

INLINE_ENTRIES_MAX = 64
"""Up to this many entries (counted through every subfolder) are removed in the event loop."""


def holds_few(folder: Path, most: int = INLINE_ENTRIES_MAX) -> bool:
    """Whether `folder` holds at most `most` entries in all (links are not followed). A folder
    that cannot be read is left to the thread's removal."""
    pending, seen = [os.fspath(folder)], 0
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > most:
                        return False
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True


async def remove_tree(folder: Path) -> None:
    """`folder` and everything in it gone (errors ignored, as `shutil.rmtree` does)."""
    if holds_few(folder):
        shutil.rmtree(folder, ignore_errors=True)
    else:
        await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
