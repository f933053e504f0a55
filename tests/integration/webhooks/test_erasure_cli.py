"""`flowledger erase subject`: the same erasure from the console, as a real process."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from pathlib import Path
from uuid import uuid4

from adapters.platform.services import Services
from adapters.store import NewEvent
from adapters.store.reader import read_stream_current
from domain.data_subject import DataSubject, subject_stream_id
from domain.envelope import EventMetadata
from domain.personal import ERASED
from tests.helpers import unique_id


async def erase(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "FLOWLEDGER_DATABASE_URL": database_url,
        "FLOWLEDGER_DATA_DIR": str(tmp_path / "data"),
    }
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "adapters.cli.main", "erase", "subject", *args],
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_console_erases_a_subject_and_says_so_of_an_unknown_one(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    person = unique_id("dev-")
    run = str(uuid4())
    metadata = EventMetadata(correlation_id=run, actor=person, personal_actor=True)
    event = NewEvent(type="RunStarted", data={"occurred_at": "2026-04-01T12:00:00Z"})
    await services.store.append(run, "run", [event], expected_version=0, metadata=metadata)
    [stored] = await read_stream_current(services.store.pool, run)
    assert stored.metadata.actor == person
    sealed = await services.store.pool.fetchval(
        "SELECT metadata->>'actor' FROM events WHERE stream_id = $1", run
    )
    subject = sealed.split(":")[2]

    code, _, err = await erase(database_url, tmp_path, f"ds_{'0' * 32}", "--reason", "test")
    assert code == 1 and "not found" in err, err

    code, out, err = await erase(database_url, tmp_path, subject, "--reason", "asked to")
    assert code == 0, err
    assert f"erased {subject}" in out
    record = await services.repository.get(DataSubject, subject_stream_id(subject))
    assert (record.erased_by, record.reason) == (f"console:{getpass.getuser()}", "asked to")
    [stored] = await read_stream_current(services.store.pool, run)
    assert stored.metadata.actor == ERASED
