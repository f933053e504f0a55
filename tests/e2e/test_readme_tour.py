"""The README's Tour, run as written against `flowledger up` on embedded servers, so it cannot
rot: its shell blocks with bash (curl and jq), its WebSocket snippet with Python."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_up import free_port, start_up, stop_with_ctrl_c, wait_gone, wait_ready

REPO = Path(__file__).resolve().parents[2]
TOUR = re.search(r"\n## Tour\n(.*?)\n## ", (REPO / "README.md").read_text(), flags=re.S)

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="finds servers through /proc"),
    pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="curl and jq"),
]


def blocks(kind: str) -> list[str]:
    assert TOUR, "the README has no Tour section"
    return re.findall(rf"```{kind}\n(.*?)```", TOUR.group(1), flags=re.S)


def test_the_tour_runs_as_written(tmp_path: Path, server_dir: Path) -> None:
    setup, reads = blocks("bash")
    (follow,) = blocks("py")
    data_dir, log, port = server_dir / "data", tmp_path / "up.log", free_port()
    up = start_up(tmp_path, data_dir, port, log)
    try:
        wait_ready(up, port, log)
        key = re.search(r"X-API-Key: (\S+)", log.read_text())
        assert key, log.read_text()
        env = os.environ | {"API": f"http://127.0.0.1:{port}", "KEY": key.group(1)}

        def bash(script: str) -> str:
            done = subprocess.run(
                ["bash", "-c", f"set -euo pipefail\n{script}"],
                env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, f"{script}\n---\n{done.stdout}\n{done.stderr}"
            return done.stdout

        printed = bash(setup + '\necho "RUN=$RUN"')
        assert '"secret"' in printed and '"name": "greet"' in printed
        env["RUN"] = re.search(r"^RUN=(\S+)$", printed, flags=re.M).group(1)  # type: ignore[union-attr]
        followed = subprocess.run(
            [sys.executable, "-c", follow], env=env, capture_output=True, text=True, timeout=60
        )
        assert followed.returncode == 0, followed.stderr
        assert "RunSucceeded" in followed.stdout
        read = bash(reads)
        assert "[greet] hello, tour" in read and "[check] checked" in read
        assert "RunRequested by" in read and "RunSucceeded" in read
    finally:
        stop_with_ctrl_c(up, log)
    assert wait_gone(data_dir) == []
