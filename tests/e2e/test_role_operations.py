"""Each role as a real process: probes answer, logs are JSON lines, SIGTERM ends it gracefully."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from tests.e2e.test_up import free_port

STARTED_WITHIN_S = 120
"""A backstop against a role that hangs, not a measure of its speed: on a loaded machine its
start (imports, connections, claiming its work) takes what it takes."""
STOPPED_WITHIN_S = 20


def start(role: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "adapters.cli.main", role], env=env, stdout=out, stderr=out
        )


def role_env(database_url: str, nats_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    return env | {
        "FLOWLEDGER_DATABASE_URL": database_url,
        "FLOWLEDGER_NATS_URL": nats_url,
        "FLOWLEDGER_DATA_DIR": str(tmp_path / "data"),
        "FLOWLEDGER_LOG_LEVEL": "INFO",
        **extra,
    }


def get(url: str | urllib.request.Request, timeout: float = 2) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> bytes:
    deadline = time.monotonic() + STARTED_WITHIN_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode}:\n{log.read_text()}")
        try:
            status, body = get(url)
            if status == 200:
                return body
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} not 200 within {STARTED_WITHIN_S}s:\n{log.read_text()}")


def terminate(proc: subprocess.Popen[bytes], log: Path) -> float:
    """SIGTERM; the seconds it took to exit, which must be cleanly."""
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOPPED_WITHIN_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"still running {STOPPED_WITHIN_S}s after SIGTERM:\n{log.read_text()}")
    assert code == 0, log.read_text()
    return time.monotonic() - began


def wait_for_logger(name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the role has logged from `name`: its probes may answer before its work begins."""
    deadline = time.monotonic() + STARTED_WITHIN_S
    while time.monotonic() < deadline and proc.poll() is None:
        if f'"logger":"{name}"' in log.read_text().replace(" ", ""):
            return
        time.sleep(0.2)
    pytest.fail(f"nothing logged from {name} within {STARTED_WITHIN_S}s:\n{log.read_text()}")


def waiting_for_views(database_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until a request of the API's waits for its views: one of its database sessions has asked
    how far they reach (`projections.reached`). A fixed sleep would guess how fast it starts."""
    if not asyncio.run(_polled_views_within(database_url, proc, STARTED_WITHIN_S)):
        waited = f"no request waited for its views within {STARTED_WITHIN_S}s"
        pytest.fail(f"{waited}:\n{log.read_text()}")


async def _polled_views_within(
    database_url: str, proc: subprocess.Popen[bytes], within_s: float
) -> bool:
    polled = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND query LIKE '%FROM views_reached(%'"
    )  # the statement of `projections.reached` (the function of migration 0019)
    deadline = time.monotonic() + within_s
    conn = await asyncpg.connect(database_url)
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if await conn.fetchval(polled):
                return True
            await asyncio.sleep(0.05)
        return False
    finally:
        await conn.close()


def json_lines(log: Path) -> list[dict]:
    """Every log line as a JSON object, after the role's announcement (plain text, first)."""
    lines = log.read_text().splitlines()
    first_log = next((i for i, line in enumerate(lines) if line.startswith("{")), len(lines))
    return [json.loads(line) for line in lines[first_log:] if line.strip()]


def mint_key(env: dict[str, str]) -> str:
    command = ["keys", "create", "--name", "e2e", "--scopes", "read"]
    made = subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", *command],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    (token,) = re.findall(r"flk_[0-9a-f]+_\S+", made.stdout)
    return token


@pytest.mark.parametrize("role", ["projector", "relay", "intake"])
def test_a_background_role_serves_probes_logs_json_and_stops_on_sigterm(
    role: str, fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    # A database of its own: on the session's, another instance (the session's projector, once
    # a test has started it) would hold every lock, and this one would wait without a word.
    port = free_port()
    log = tmp_path / f"{role}.log"
    env = role_env(fresh_database_url, nats_url, tmp_path, FLOWLEDGER_PROBE_PORT=str(port))
    proc = start(role, env, log)
    try:
        health = json.loads(wait_for(f"http://127.0.0.1:{port}/health", proc, log))
        status, metrics = get(f"http://127.0.0.1:{port}/metrics")
        if role == "projector":
            wait_for_logger("projections.runtime", proc, log)
    finally:
        if proc.poll() is None:
            terminate(proc, log)

    assert health == {"status": "ok", "role": role}
    assert status == 200 and b"flowledger_events_appended_total" in metrics
    records = json_lines(log)
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    if role == "projector":
        assert any(r["logger"] == "projections.runtime" for r in records)


def test_the_api_finishes_a_request_in_flight_before_it_exits(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "api.log"
    # Access lines are DEBUG lines: this test reads them. A database of its own: the only
    # session polling its views' positions is then the slow request's (`waiting_for_views`).
    env = role_env(
        fresh_database_url,
        nats_url,
        tmp_path,
        FLOWLEDGER_PORT=str(port),
        FLOWLEDGER_LOG_LEVEL="DEBUG",
    )
    token = mint_key(env)
    proc = start("api", env, log)
    answers: list[tuple[int, bytes]] = []
    try:
        wait_for(f"http://127.0.0.1:{port}/health", proc, log)
        # A query told to wait for a position far ahead holds its request open for seconds.
        url = f"http://127.0.0.1:{port}/api/v1/pipeline-runs?min_position=999999999"
        request = urllib.request.Request(
            url, headers={"X-API-Key": token, "X-Request-ID": "slow-1"}
        )
        slow = threading.Thread(target=lambda: answers.append(get(request, timeout=30)))
        slow.start()
        waiting_for_views(fresh_database_url, proc, log)
        took = terminate(proc, log)
        slow.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    assert answers, "the request in flight got no answer"
    status, body = answers[0]
    assert status == 503, body
    assert json.loads(body)["code"] == "projection_behind", "answered in full, not cut off"
    assert took >= 3, "it waited for the request in flight"
    access = [r for r in json_lines(log) if r["logger"] == "uvicorn.access"]
    assert any(r.get("request_id") == "slow-1" for r in access), access
