"""A retired signing secret that an older version sealed into the events themselves (they
cannot change) is not kept again by an instance key rotation's `restore_sealed`: after the
old key is gone, nothing opens it any more."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from adapters.bootstrap import open_services
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings
from adapters.secrets.kept import REF_PREFIX, digest_of
from adapters.secrets.rotation import restore_sealed
from commands.bus import CommandBus, Dependencies
from commands.context import CommandContext, Principal
from commands.handlers import HANDLERS
from commands.projects import CreateProject
from commands.webhook_sources import (
    SECRET_SWEEPER,
    RegisterWebhookSource,
    RetireWebhookSecret,
    RotateWebhookSecret,
)

ADMIN = Principal(id="key:admin", name="alice", project_id=None, scopes=frozenset({"admin"}))


class OlderSealer:
    """What versions before `kept_secrets` did: the secret sealed into the event itself."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    async def seal(self, plain: str) -> str:
        return self._box.seal(plain)

    async def forget(self, sealed: str) -> bool:
        return False


def context(principal: Principal = ADMIN) -> CommandContext:
    return CommandContext(principal=principal, at=datetime.now(UTC), correlation_id="c")


async def test_a_retired_legacy_secret_is_not_restored(
    fresh_database_url: str, tmp_path: Path
) -> None:
    old_key, new_key = SecretBox.generate_key(), SecretBox.generate_key()
    settings = Settings(database_url=fresh_database_url, cipher_key=old_key, data_dir=tmp_path)
    async with open_services(settings, fresh_database_url) as services:
        project = (await services.bus.dispatch(CreateProject(name="P", slug="p"), context())).id
        older = CommandBus(
            HANDLERS,
            Dependencies(
                repository=services.repository,
                sealer=OlderSealer(SecretBox(old_key)),
                secrets=services.bus._dependencies.secrets,
                heartbeats=None,  # type: ignore[arg-type]
            ),
        )
        source = await older.dispatch(
            RegisterWebhookSource(project_id=UUID(project), kind="github", name="older"),
            context(),
        )
        await older.dispatch(RotateWebhookSecret(source_id=UUID(source.id), grace_s=0), context())
        await services.bus.dispatch(
            RetireWebhookSecret(source_id=UUID(source.id)), context(SECRET_SWEEPER)
        )

    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2) as pool:
        rows = await pool.fetch(
            "SELECT type, data->>'sealed_secret' AS sealed FROM events"
            " WHERE stream_id = $1 ORDER BY position",
            source.id,
        )
        assert [r["type"] for r in rows] == [
            "WebhookSourceRegistered",
            "WebhookSecretRotated",
            "WebhookPreviousSecretRetired",
        ]
        retired, current = rows[2]["sealed"], rows[1]["sealed"]
        assert retired == rows[0]["sealed"] and not retired.startswith(REF_PREFIX)
        async with pool.acquire() as conn:
            done = await restore_sealed(
                conn, open_key=base64.b64decode(old_key), wrap_key=base64.b64decode(new_key)
            )
        assert done.restored == 1  # the current secret only
        kept = "SELECT count(*) FROM kept_secrets WHERE sealed_digest = $1"
        assert await pool.fetchval(kept, digest_of(current)) == 1
        assert await pool.fetchval(kept, digest_of(retired)) == 0
