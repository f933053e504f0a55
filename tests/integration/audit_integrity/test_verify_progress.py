"""`audit verify` in a terminal shows its progress; its report stays the same everywhere."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import sys
import time
from pathlib import Path

import asyncpg

from adapters.audit.verify import verify_all
from adapters.platform.services import Services
from tests.integration.audit_integrity.auditing import make_history


async def test_verify_all_reports_progress_up_to_every_event(
    scratch_url: str, scratch_services: Services
) -> None:
    await make_history(scratch_services)
    heard: list[tuple[int, int]] = []
    conn = await asyncpg.connect(scratch_url)
    try:
        report = await verify_all(conn, lambda done, total: heard.append((done, total)))
    finally:
        await conn.close()
    assert report.ok and heard
    assert heard[-1] == (report.events, report.head)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)


async def test_verify_in_a_terminal_draws_a_bar_then_reports(
    scratch_url: str, scratch_services: Services, nats_url: str, tmp_path: Path
) -> None:
    await make_history(scratch_services)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {"FLOWLEDGER_DATABASE_URL": scratch_url, "FLOWLEDGER_NATS_URL": nats_url}
    pid, fd = pty.fork()
    if pid == 0:  # the child, on the terminal
        os.chdir(tmp_path)
        os.execvpe(sys.executable, [sys.executable, "-m", "adapters.cli.main", "audit", "verify"],
                   env)  # fmt: skip
    shown, deadline = b"", time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    _, status = await asyncio.to_thread(os.waitpid, pid, 0)
    text = shown.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "verifying" in text and "events/s" in text
    assert "checked every stream" in text and "intact" in text
