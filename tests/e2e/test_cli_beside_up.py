"""Every one-shot subcommand beside a running `flowledger up`, finding it by its data folder
alone: no URL is given, none is copied from `up`'s output."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_up import free_port, start_up, stop_with_ctrl_c, wait_gone, wait_ready

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="finds servers through /proc")


def cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    # A port nothing listens on: the API must be found through the runtime file.
    clean |= {"FLOWLEDGER_DATA_DIR": str(data_dir), "FLOWLEDGER_PORT": "9", **env}
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", *args],
        env=clean, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "already in use" not in done.stderr
    return done.stdout


def eventually_listed(data_dir: Path, key_id: str, *args: str) -> None:
    deadline = time.monotonic() + 20
    while key_id not in ok(cli(data_dir, "keys", "list", *args)):
        assert time.monotonic() < deadline, f"{key_id} never listed with {args}"
        time.sleep(0.3)


def test_the_cli_uses_the_running_up(tmp_path: Path, server_dir: Path) -> None:
    data_dir, log = server_dir / "data", tmp_path / "up.log"
    port = free_port()
    up = start_up(tmp_path, data_dir, port, log)
    try:
        wait_ready(up, port, log)
        runtime = data_dir / "runtime.json"
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o600
        published = json.loads(runtime.read_text())
        assert published["pid"] == up.pid
        assert published["api_url"] == f"http://127.0.0.1:{port}"
        admin = re.search(r"X-API-Key: (\S+)", log.read_text())
        assert admin, log.read_text()

        created = ok(cli(data_dir, "keys", "create", "--name", "e2e-bot", "--scopes", "read"))
        key_id = re.search(r"key id: (\S+)", created).group(1)  # type: ignore[union-attr]
        eventually_listed(data_dir, key_id)
        assert "revoked" in ok(cli(data_dir, "keys", "revoke", key_id, "--reason", "e2e"))
        eventually_listed(data_dir, key_id, "--status", "revoked")

        assert "api_keys" in ok(cli(data_dir, "projections", "status", "--json"))
        assert "rebuilt api_keys" in ok(cli(data_dir, "projections", "rebuild", "api_keys"))
        ok(cli(data_dir, "projections", "quarantine", "list"))
        assert "intact" in ok(cli(data_dir, "audit", "verify"))
        assert ok(cli(data_dir, "export", "--limit", "3")).count("\n") == 3

        as_admin = {"FLOWLEDGER_API_KEY": admin.group(1)}
        run_id = ok(cli(data_dir, "run", "example", "--param", "who=x", **as_admin)).strip()
        assert "RunRequested" in ok(cli(data_dir, "replay", "run", run_id))
        tail = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli.main", "tail", "--after", "0", "--run", run_id],
            env={k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
            | {"FLOWLEDGER_DATA_DIR": str(data_dir)},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(4)
        tail.send_signal(signal.SIGINT)
        printed, complaints = tail.communicate(timeout=20)
        assert "RunRequested" in printed, complaints
    finally:
        stop_with_ctrl_c(up, log)
    assert wait_gone(data_dir) == []
    assert not (data_dir / "runtime.json").exists()
