"""`flowledger up` as a real process: ready, Ctrl-C stops it and its servers, data survives."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="finds servers through /proc")

READY_WITHIN_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_up(workdir: Path, data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {"FLOWLEDGER_DATA_DIR": str(data_dir), "FLOWLEDGER_PORT": str(port)}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "adapters.cli.main", "up"],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`up` exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    pytest.fail(f"/ready not 200 within {READY_WITHIN_S}s:\n{log.read_text()}")


def stop_with_ctrl_c(proc: subprocess.Popen[bytes], log: Path) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"`up` did not stop within 30s of SIGINT:\n{log.read_text()}")
    assert code == 0, log.read_text()


def servers_using(data_dir: Path) -> list[int]:
    """Pids of live processes whose command line names the data folder (postgres -D, nats -sd)."""
    needle = str(data_dir).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:  # the process ended while we looked
            continue
    return pids


def wait_gone(data_dir: Path, within_s: float = 10) -> list[int]:
    deadline = time.monotonic() + within_s
    while (left := servers_using(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def database_url(log: Path) -> str:
    match = re.search(r"database\s+(postgresql://\S+)", log.read_text())
    assert match, log.read_text()
    return match.group(1)


def test_up_serves_stops_cleanly_and_keeps_its_data(tmp_path: Path, server_dir: Path) -> None:
    # Not under tmp_path: postgres runs as another user, and pytest keeps tmp_path private.
    data_dir = server_dir / "data"
    first_log, second_log, busy_log = tmp_path / "1.log", tmp_path / "2.log", tmp_path / "b.log"

    port = free_port()
    first = start_up(tmp_path, data_dir, port, first_log)
    try:
        wait_ready(first, port, first_log)
        assert f"http://127.0.0.1:{port}" in first_log.read_text()
        assert str(data_dir) in first_log.read_text()
        assert len(servers_using(data_dir)) >= 2, "expected embedded postgres and nats"
        with psycopg.connect(database_url(first_log), autocommit=True) as conn:
            conn.execute("CREATE TABLE e2e_marker (note text)")
            conn.execute("INSERT INTO e2e_marker VALUES ('kept')")

        busy = start_up(tmp_path, data_dir, free_port(), busy_log)
        assert busy.wait(timeout=30) == 1
        assert "already in use" in busy_log.read_text()
    finally:
        stop_with_ctrl_c(first, first_log)
    assert wait_gone(data_dir) == [], "embedded servers outlived `up`"

    port = free_port()
    second = start_up(tmp_path, data_dir, port, second_log)
    try:
        wait_ready(second, port, second_log)
        assert "applied migrations" not in second_log.read_text()
        with psycopg.connect(database_url(second_log)) as conn:
            assert conn.execute("SELECT note FROM e2e_marker").fetchall() == [("kept",)]
    finally:
        stop_with_ctrl_c(second, second_log)
    assert wait_gone(data_dir) == []
