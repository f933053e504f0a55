"""`up` heals: a kill -9 of its embedded PostgreSQL or NATS under load is restarted, the roles
reconnect, /ready recovers, and nothing acknowledged is lost or duplicated anywhere; a lost
data folder ends `up` non-zero with the reason; with an external NATS, /ready reports its loss,
the roles reconnect when it is back, and a SIGTERM during an outage stops cleanly; with an
external PostgreSQL killed under load, /ready reports it, every role reconnects once it is back
on its port, and nothing acknowledged is lost or duplicated."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from adapters.platform.embedded import EmbeddedNats, EmbeddedPostgres
from tests.e2e.healing import (
    Load,
    admin_key,
    audit,
    caught_up,
    is_gone,
    nats_url,
    server_pid,
    start_up,
    who_lags,
)
from tests.e2e.test_up import database_url, free_port, wait_gone, wait_ready

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="finds servers through /proc")

RECOVER_WITHIN_S = 30


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def stop_with_sigterm(proc: subprocess.Popen[bytes], log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"`up` did not stop within 40s of SIGTERM:\n{log.read_text()}")
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.mark.parametrize(
    "binary",
    [
        "postgres",
        "nats-server",
    ],
)
def test_a_killed_server_comes_back_and_nothing_is_lost(
    binary: str, tmp_path: Path, server_dir: Path
) -> None:
    data_dir, log, port = server_dir / "data", tmp_path / "up.log", free_port()
    up = start_up(tmp_path, data_dir, port, log)
    try:
        wait_ready(up, port, log)
        load = Load(f"http://127.0.0.1:{port}", admin_key(log))
        load.start()
        try:
            load.wait_for(20, within_s=30)
            victim = server_pid(data_dir, binary)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            time.sleep(0.5)  # long enough for /ready to see it
            while not ready(port):
                assert time.monotonic() - killed_at < RECOVER_WITHIN_S, log.read_text()
                time.sleep(0.1)
            assert is_gone(victim), f"pid {victim} left unreaped"
            assert server_pid(data_dir, binary) != victim
            load.wait_for(len(load.acked) + 20, within_s=RECOVER_WITHIN_S)
        finally:
            load.stop()
        assert load.failures == []
        url = database_url(log)
        # Generous: after a kill -9 an orphaned backend may hold a session until it notices.
        if not asyncio.run(caught_up(url, within_s=60)):
            pytest.fail(f"{asyncio.run(who_lags(url))}\n{log.read_text()}")
        found = asyncio.run(audit(url, nats_url(log), load))
        acked = len(load.acked)
        assert (found.acknowledged, found.found, found.duplicated) == (acked, acked, 0), found
        assert found.view_rows == acked, found
        assert (found.stream_missing, found.stream_duplicated) == (0, 0), found
        assert f"(pid {victim}) ended with signal SIGKILL" in log.read_text()
    finally:
        if up.poll() is None:
            stop_with_sigterm(up, log)
    assert wait_gone(data_dir) == []


def remove_while_in_use(folder: Path) -> None:
    """rmtree, again while the servers still running in it write new files into a folder being
    emptied (`Directory not empty`), until the folder is gone."""
    deadline = time.monotonic() + 10
    while folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
        assert time.monotonic() < deadline, f"{folder} could not be removed"


def test_a_lost_data_folder_ends_up_non_zero_with_the_reason(
    tmp_path: Path, server_dir: Path
) -> None:
    data_dir, log, port = server_dir / "data", tmp_path / "up.log", free_port()
    up = start_up(tmp_path, data_dir, port, log)
    try:
        wait_ready(up, port, log)
        remove_while_in_use(data_dir)
        code = up.wait(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert code != 0, log.read_text()
    assert "data folder" in log.read_text() and "is gone" in log.read_text(), log.read_text()
    assert wait_gone(data_dir) == []


def test_with_an_external_nats_up_reports_the_loss_reconnects_and_stops_cleanly(
    tmp_path: Path, server_dir: Path
) -> None:
    # The test's own NATS stands in for an external one: `up` only reconnects to it.
    external = EmbeddedNats(server_dir / "external")
    url = external.start()
    data_dir, log, port = server_dir / "data", tmp_path / "up.log", free_port()
    up = start_up(tmp_path, data_dir, port, log, FLOWLEDGER_NATS_URL=url)
    try:
        wait_ready(up, port, log)
        assert external.pid is not None
        os.kill(external.pid, signal.SIGKILL)  # right away: the runner may be subscribing
        assert wait_until(lambda: external.exited() is not None)
        assert wait_until(lambda: nats_check(port) is False), log.read_text()
        external.restart()  # the same port, as an external server comes back
        assert wait_until(lambda: ready(port), within_s=RECOVER_WITHIN_S), log.read_text()
        external.stop()
        assert wait_until(lambda: nats_check(port) is False), log.read_text()
        time.sleep(3)  # the roles meet the outage before they are asked to stop
    finally:
        if up.poll() is None:
            stop_with_sigterm(up, log)
        external.stop()


def test_with_an_external_postgresql_up_reports_the_loss_heals_and_loses_nothing(
    tmp_path: Path, server_dir: Path
) -> None:
    # The test's own PostgreSQL stands in for an external one: `up` neither owns nor restarts
    # it, only reconnects to it when it is back on its port.
    external = EmbeddedPostgres(server_dir / "external")
    url = external.start()
    data_dir, log, port = server_dir / "data", tmp_path / "up.log", free_port()
    up = start_up(tmp_path, data_dir, port, log, FLOWLEDGER_DATABASE_URL=url)
    try:
        wait_ready(up, port, log)
        load = Load(f"http://127.0.0.1:{port}", admin_key(log))
        load.start()
        try:
            load.wait_for(20, within_s=30)
            assert external.pid is not None
            os.kill(external.pid, signal.SIGKILL)
            assert wait_until(lambda: external.exited() is not None)
            assert wait_until(lambda: postgres_check(port) is False), log.read_text()
            assert up.poll() is None, "an external server's loss is reported, not fatal"
            restart_when_orphans_are_gone(external)
            assert wait_until(lambda: ready(port), within_s=RECOVER_WITHIN_S), log.read_text()
            load.wait_for(len(load.acked) + 20, within_s=RECOVER_WITHIN_S)
        finally:
            load.stop()
        assert load.failures == []
        if not asyncio.run(caught_up(url, within_s=60)):
            pytest.fail(f"{asyncio.run(who_lags(url))}\n{log.read_text()}")
        found = asyncio.run(audit(url, nats_url(log), load))
        acked = len(load.acked)
        assert (found.acknowledged, found.found, found.duplicated) == (acked, acked, 0), found
        assert found.view_rows == acked, found
        assert (found.stream_missing, found.stream_duplicated) == (0, 0), found
    finally:
        if up.poll() is None:
            stop_with_sigterm(up, log)
        external.stop()


def restart_when_orphans_are_gone(server: EmbeddedPostgres, within_s: float = 30) -> None:
    """Start the killed server again on its port, once its orphaned backends have let go."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            server.restart()
            return
        except RuntimeError:
            assert time.monotonic() < deadline, "the killed PostgreSQL never started again"
            time.sleep(0.5)


def postgres_check(port: int) -> bool | None:
    """/ready's PostgreSQL check (None: no answer)."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
        return answer.json()["checks"]["postgres"]["ok"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def wait_until(condition: Callable[[], bool], within_s: float = 15) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def nats_check(port: int) -> bool | None:
    """/ready's NATS check (None: no answer)."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
        return answer.json()["checks"]["nats"]["ok"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None
