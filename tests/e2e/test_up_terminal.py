"""`flowledger up` in a terminal (a pseudo-terminal): coloured console lines, no heartbeats or
access lines, the admin key again at the end of start-up, and a quiet stop on Ctrl-C."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_up import free_port, wait_gone

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="finds servers through /proc")


class Terminal:
    """A child on a pseudo-terminal, and everything it printed there."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: stdin, stdout and stderr are the terminal
            os.execvpe(argv[0], argv, env)
        self.text = ""
        self.code: int | None = None

    def read_until(self, needle: str, within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while needle not in self.text and time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.2)[0]:
                try:
                    self.text += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    return needle in self.text
        return needle in self.text

    def wait(self, within_s: float) -> int | None:
        deadline = time.monotonic() + within_s
        while self.code is None and time.monotonic() < deadline:
            self.read_until("\0", 0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.read_until("\0", 0.5)
                self.code = os.waitstatus_to_exitcode(status)
        return self.code


def test_up_in_a_terminal_reads_well_and_stops_quietly(server_dir: Path) -> None:
    data_dir, port = server_dir / "data", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {"FLOWLEDGER_DATA_DIR": str(data_dir), "FLOWLEDGER_PORT": str(port), "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    up = Terminal([sys.executable, "-m", "adapters.cli.main", "up"], env)
    try:
        assert up.read_until("start-up done", 90), up.text
        assert up.read_until("uv run flowledger run example --follow", 10), up.text
        for _ in range(3):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
        up.read_until("heartbeat", 13)  # the local runner heartbeats every 10 s
        os.kill(up.pid, signal.SIGINT)
        code = up.wait(60)
    finally:
        if up.wait(0.1) is None:
            os.kill(up.pid, signal.SIGKILL)
            os.waitpid(up.pid, 0)
    printed = up.text
    assert code == 0, printed
    after_startup = printed.split("start-up done", 1)[1]
    assert "X-API-Key: flk_" in after_startup
    assert "\x1b[32mINFO" in printed  # coloured levels
    assert '{"time"' not in printed  # no JSON lines on a terminal
    assert "heartbeat" not in printed and "/health" not in printed  # DEBUG lines
    for noise in ("Traceback", "deregistering failed", "ConnectError"):
        assert noise not in printed, printed
    assert "stopping embedded PostgreSQL" in printed
    assert wait_gone(data_dir) == []
