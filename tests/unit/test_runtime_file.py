"""The runtime file of `up`: written whole and private, removed at exit, ignored when stale."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from adapters.platform.embedded import DataDirLock
from adapters.platform.runtime import Runtime, running, runtime_file


def ours(pid: int) -> Runtime:
    return Runtime(
        pid=pid, api_url="http://127.0.0.1:1", database_url="postgresql://u:p@h/db", nats_url="n"
    )


def test_a_live_holder_of_the_folder_is_found_and_its_file_removed_at_exit(tmp_path: Path) -> None:
    lock = DataDirLock(tmp_path)
    lock.acquire()
    try:
        with runtime_file(tmp_path, ours(os.getpid())) as path:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert running(tmp_path) == ours(os.getpid())
        assert not path.exists()
    finally:
        lock.release()


def test_a_file_without_a_live_lock_holder_is_stale(tmp_path: Path) -> None:
    with runtime_file(tmp_path, ours(os.getpid())):
        assert running(tmp_path) is None  # nobody holds the folder's lock


def test_a_dead_pid_is_stale(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "flowledger.lock").write_text(f"{gone.pid}\n")
    with runtime_file(tmp_path, ours(gone.pid)):
        assert running(tmp_path) is None


def test_a_file_another_up_replaced_is_left_alone(tmp_path: Path) -> None:
    with runtime_file(tmp_path, ours(1)) as path:
        with runtime_file(tmp_path, ours(2)):
            pass
        assert not path.exists()  # the second removed its own; the first finds none
    (tmp_path / "runtime.json").write_bytes(b"not json")
    assert running(tmp_path) is None
