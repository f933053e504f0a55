"""A runner whose server stops: it says so once, in one clear line, and exits after
FLOWLEDGER_RUNNER_GIVE_UP_AFTER_S rather than retrying forever."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_cli_beside_up import cli, ok
from tests.e2e.test_up import free_port, start_up, stop_with_ctrl_c, wait_gone, wait_ready

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="finds servers through /proc")


def until_registered(runner: subprocess.Popen[str], within_s: float = 90) -> str:
    """What the runner said up to its "registered" line (a loaded machine may take a while)."""
    said: list[str] = []
    deadline = time.monotonic() + within_s
    assert runner.stderr is not None
    while time.monotonic() < deadline:
        line = runner.stderr.readline()
        said.append(line)
        if "registered" in line or not line:
            break
    assert "registered" in "".join(said), "".join(said)
    return "".join(said)


def test_a_runner_gives_up_on_a_server_gone(tmp_path: Path, server_dir: Path) -> None:
    data_dir, log = server_dir / "data", tmp_path / "up.log"
    port = free_port()
    up = start_up(tmp_path, data_dir, port, log)
    runner: subprocess.Popen[str] | None = None
    try:
        wait_ready(up, port, log)
        made = ok(cli(data_dir, "keys", "create", "--name", "far-runner", "--scopes", "runner"))
        token = re.search(r"token:\s+(\S+)", made).group(1)  # type: ignore[union-attr]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
        env |= {
            "FLOWLEDGER_DATA_DIR": str(data_dir),  # finds the API and NATS through `up`
            "FLOWLEDGER_RUNNER_TOKEN": token,
            "FLOWLEDGER_RUNNER_NAME": "far-runner",
            "FLOWLEDGER_RUNNER_HEARTBEAT_INTERVAL_S": "1",
            "FLOWLEDGER_RUNNER_GIVE_UP_AFTER_S": "4",
            "FLOWLEDGER_LOG_FORMAT": "console",
        }
        runner = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli.main", "runner"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        said_first = until_registered(runner)
        time.sleep(2)  # heartbeating
    finally:
        stop_with_ctrl_c(up, log)
    assert wait_gone(data_dir) == []
    assert runner is not None
    started = time.monotonic()
    _, said = runner.communicate(timeout=60)
    assert runner.returncode == 1, said
    assert time.monotonic() - started < 30
    said = said_first + said
    assert said.count("cannot reach the server") == 1, said
    assert "giving up" in said
    assert "Traceback" not in said, said
