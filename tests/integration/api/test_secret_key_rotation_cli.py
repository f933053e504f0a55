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


def keep_sealed(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", "secrets", "keep-sealed"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=cwd,
    )


async def test_keep_sealed_keeps_old_events_signing_secrets_apart_once(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    from adapters.secrets.kept import digest_of
    from commands.bus import CommandBus, Dependencies
    from commands.handlers import HANDLERS
    from commands.webhook_sources import RegisterWebhookSource
    from tests.integration.api.test_instance_key_rotation import OlderSealer

    key = SecretBox.generate_key()
    settings = Settings(database_url=fresh_database_url, cipher_key=key, data_dir=tmp_path)
    async with open_services(settings, fresh_database_url) as services:
        context = CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id="c")
        project = (await services.bus.dispatch(CreateProject(name="P", slug="p"), context)).id
        older = CommandBus(
            HANDLERS,
            Dependencies(
                repository=services.repository,
                sealer=OlderSealer(SecretBox(key)),
                secrets=services.bus._dependencies.secrets,
                heartbeats=None,  # type: ignore[arg-type]
            ),
        )
        source = await older.dispatch(
            RegisterWebhookSource(project_id=project, kind="github", name="old"), context
        )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")},
        "FLOWLEDGER_DATABASE_URL": fresh_database_url,
        "FLOWLEDGER_NATS_URL": nats_url,
        "FLOWLEDGER_CIPHER_KEY": key,
        "FLOWLEDGER_DATA_DIR": str(tmp_path),
    }
    first, second = keep_sealed(env, tmp_path), keep_sealed(env, tmp_path)

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("kept 1, kept already 0"), first.stdout
    assert second.stdout.startswith("kept 0, kept already 1"), second.stdout
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1) as pool:
        sealed = await pool.fetchval(
            "SELECT data->>'sealed_secret' FROM events WHERE stream_id = $1", source.id
        )
        kept = await pool.fetchval(
            "SELECT count(*) FROM kept_secrets WHERE sealed_digest = $1", digest_of(sealed)
        )
        assert kept == 1
