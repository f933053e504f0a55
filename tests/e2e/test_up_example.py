"""A new user's first minute: `flowledger up` on a fresh folder, then the example run it offers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_up import free_port, start_up, stop_with_ctrl_c, wait_gone, wait_ready

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="finds servers through /proc")


def test_up_offers_an_example_that_runs_on_its_own_runner(tmp_path: Path, server_dir: Path) -> None:
    data_dir, log = server_dir / "data", tmp_path / "up.log"
    port = free_port()
    up = start_up(tmp_path, data_dir, port, log)
    try:
        wait_ready(up, port, log)
        printed = log.read_text()
        command = re.search(r"FLOWLEDGER_API_KEY=(\S+) uv run flowledger run example --follow",
                            printed)  # fmt: skip
        assert command, printed
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
        env |= {"FLOWLEDGER_API_KEY": command.group(1), "FLOWLEDGER_PORT": str(port)}
        run = subprocess.run(
            [sys.executable, "-m", "adapters.cli.main", "run", "example", "--follow",
             "--param", "who=newcomer"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, f"{run.stderr}\n--- up:\n{log.read_text()}"
        assert "[hello] hello, newcomer" in run.stdout
        assert "[build] building part three" in run.stdout
        assert "[test] a warning on stderr, interleaved with stdout" in run.stdout
    finally:
        stop_with_ctrl_c(up, log)
    assert wait_gone(data_dir) == []
