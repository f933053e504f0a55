"""`flowledger secrets rotate-key` as an operator runs it: a new FLOWLEDGER_CIPHER_KEY in the
environment, the old key on stdin, a real database; values survive, events are untouched."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from adapters.bootstrap import open_services
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings
from adapters.secrets import vault
from commands.context import CommandContext, Principal
from commands.projects import CreateProject
from commands.secrets import SetSecret

ADMIN = Principal(id="key:admin", name="alice", project_id=None, scopes=frozenset({"admin"}))


def rotate(database_url: str, nats_url: str, new_key: str, stdin: str, data_dir: Path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")},
        "FLOWLEDGER_DATABASE_URL": database_url,
        "FLOWLEDGER_NATS_URL": nats_url,
        "FLOWLEDGER_CIPHER_KEY": new_key,
        "FLOWLEDGER_DATA_DIR": str(data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", "secrets", "rotate-key"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=data_dir,
    )


async def test_rotating_the_instance_key_rewraps_and_keeps_every_value(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    old_key, new_key = SecretBox.generate_key(), SecretBox.generate_key()
    settings = Settings(database_url=fresh_database_url, cipher_key=old_key, data_dir=tmp_path)
    async with open_services(settings, fresh_database_url) as services:
        context = CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id="c")
        created = await services.bus.dispatch(CreateProject(name="P", slug="p"), context)
        project = created.id
        for name in ("ONE", "TWO"):
            command = SetSecret(project_id=project, name=name, value=f"value-of-{name}")
            await services.bus.dispatch(command, context)
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2) as pool:
        events = await pool.fetch("SELECT position, hash FROM events ORDER BY position")

        refused = rotate(fresh_database_url, nats_url, new_key, "not a key", tmp_path)
        same = rotate(fresh_database_url, nats_url, old_key, old_key, tmp_path)
        done = rotate(fresh_database_url, nats_url, new_key, old_key + "\n", tmp_path)
        again = rotate(fresh_database_url, nats_url, new_key, old_key, tmp_path)

        assert refused.returncode == 2 and "base64" in refused.stderr
        assert same.returncode == 2 and "configured key" in same.stderr, same.stderr
        assert done.returncode == 0, done.stderr
        assert "re-wrapped 2," in done.stdout and "re-wrapped 0, already" in again.stdout
        assert await pool.fetch("SELECT position, hash FROM events ORDER BY position") == events
        vault.install(base64.b64decode(new_key))
        for name in ("ONE", "TWO"):
            revealed = await vault.reveal(pool, project, name)
            assert revealed is not None and revealed.value == f"value-of-{name}"
