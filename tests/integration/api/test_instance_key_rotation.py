"""An instance key rotation covers every key the instance key wraps, proved with the old key
gone: webhook sources still verify (one registered today, one whose event still holds the
secret sealed by an older version), subscriptions still sign, project secrets still reveal,
an erased subject stays erased, a living one still opens, and every event row is unchanged."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import msgspec
import pytest

from adapters.bootstrap import open_services
from adapters.platform.secrets import SecretBox, SecretUnsealError
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.secrets import vault
from adapters.secrets.kept import REF_PREFIX
from adapters.secrets.rotation import rotate_instance_key
from adapters.store import NewEvent
from adapters.store.personal import reveal
from adapters.store.reader import read_stream_current
from adapters.webhooks.ingest import ingest
from adapters.webhooks.verify import github_signature
from commands.bus import CommandBus, Dependencies
from commands.context import CommandContext, Principal
from commands.data_subjects import EraseDataSubject
from commands.handlers import HANDLERS
from commands.projects import CreateProject
from commands.secrets import SetSecret
from commands.subscriptions import CreateSubscription
from commands.webhook_sources import RegisterWebhookSource
from domain.envelope import EventMetadata
from domain.personal import ERASED
from domain.subscription import Subscription
from domain.webhook_source import WebhookSource

ADMIN = Principal(id="key:admin", name="alice", project_id=None, scopes=frozenset({"admin"}))


class OlderSealer:
    """What versions before `kept_secrets` did: the secret sealed into the event itself."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    async def seal(self, plain: str) -> str:
        return self._box.seal(plain)


def context() -> CommandContext:
    return CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id="c")


async def person_run(services: Services, person: str) -> tuple[str, str]:
    """A run stream whose actor is a person (sealed under their key); (run id, subject)."""
    run = str(uuid4())
    metadata = EventMetadata(correlation_id=run, actor=person, personal_actor=True)
    event = NewEvent(type="RunStarted", data={"occurred_at": "2026-04-01T12:00:00Z"})
    await services.store.append(run, "run", [event], expected_version=0, metadata=metadata)
    sealed = await services.store.pool.fetchval(
        "SELECT metadata->>'actor' FROM events WHERE stream_id = $1", run
    )
    return run, sealed.split(":")[2]


async def delivered(services: Services, source: UUID, secret: str) -> str:
    body = msgspec.json.encode({"zen": "Keep it logically awesome.", "hook_id": 1})
    headers = {
        "x-github-event": "ping",
        "x-github-delivery": str(uuid4()),
        "x-hub-signature-256": github_signature(secret, body),
        "content-type": "application/json",
    }
    receipt = await ingest(
        services,
        kind="github",
        source=str(source),
        headers=headers,
        query={},
        body=body,
        now=datetime.now(UTC),
    )
    return receipt.outcome


async def test_after_rotation_without_the_old_key_everything_still_opens(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key, new_key = SecretBox.generate_key(), SecretBox.generate_key()
    old = Settings(database_url=fresh_database_url, cipher_key=old_key, data_dir=tmp_path)
    made: dict[str, Any] = {}
    async with open_services(old, fresh_database_url) as services:
        project = (await services.bus.dispatch(CreateProject(name="P", slug="p"), context())).id
        made["project"] = project
        await services.bus.dispatch(
            SetSecret(project_id=UUID(project), name="DEPLOY_KEY", value="deploy-value"), context()
        )
        current = await services.bus.dispatch(
            RegisterWebhookSource(project_id=UUID(project), kind="github", name="today"),
            context(),
        )
        older_deps = Dependencies(
            repository=services.repository,
            sealer=OlderSealer(SecretBox(old_key)),
            secrets=services.bus._dependencies.secrets,
            heartbeats=None,  # type: ignore[arg-type]
        )
        older = await CommandBus(HANDLERS, older_deps).dispatch(
            RegisterWebhookSource(project_id=UUID(project), kind="github", name="older"),
            context(),
        )
        subscription = await services.bus.dispatch(
            CreateSubscription(
                project_id=UUID(project), url="https://example.com/hook", event_types=("*",)
            ),
            context(),
        )
        made["sources"] = {current.id: current.secret, older.id: older.secret}
        made["subscription"] = (subscription.id, subscription.secret)
        made["kept"], _ = await person_run(services, "kept-person")
        made["erased"], subject = await person_run(services, "erased-person")
        await services.bus.dispatch(EraseDataSubject(subject_id=subject, reason="asked"), context())

    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2) as pool:
        sealed_today = await pool.fetchval(
            "SELECT data->>'sealed_secret' FROM events WHERE stream_id = $1", current.id
        )
        sealed_older = await pool.fetchval(
            "SELECT data->>'sealed_secret' FROM events WHERE stream_id = $1", older.id
        )
        # Today's events hold a reference only; the older one the sealed value itself.
        assert sealed_today.startswith(REF_PREFIX) and not sealed_older.startswith(REF_PREFIX)
        events = await pool.fetch("SELECT * FROM events ORDER BY position")
        done = await rotate_instance_key(
            pool, old_key=base64.b64decode(old_key), new_key=base64.b64decode(new_key)
        )
        again = await rotate_instance_key(
            pool, old_key=base64.b64decode(old_key), new_key=base64.b64decode(new_key)
        )
        # Secret value, 2 kept signing secrets + 1 newly kept, the living subject, the pepper.
        assert (done.rewrapped, done.unreadable, done.restored) == (5, 0, 1), done
        assert (again.rewrapped, again.restored, again.already) == (0, 0, 6), again
        assert await pool.fetch("SELECT * FROM events ORDER BY position") == events

    # The old key forgotten by this process too: only the new one opens anything.
    monkeypatch.setattr(vault, "_installed", [])
    monkeypatch.setattr(reveal, "_installed", [])
    new = Settings(database_url=fresh_database_url, cipher_key=new_key, data_dir=tmp_path)
    async with open_services(new, fresh_database_url) as services:
        for source, secret in made["sources"].items():
            assert await delivered(services, UUID(source), secret) == "accepted"
            with pytest.raises(Exception, match="signature"):
                await delivered(services, UUID(source), "not-the-secret")
        sub_id, sub_secret = made["subscription"]
        sub = await services.repository.get(Subscription, UUID(sub_id))
        assert await services.box.unseal(sub.sealed_secret) == sub_secret
        revealed = await vault.reveal(services.store.pool, made["project"], "DEPLOY_KEY")
        assert revealed is not None and revealed.value == "deploy-value"
        [kept] = await read_stream_current(services.store.pool, made["kept"])
        [erased] = await read_stream_current(services.store.pool, made["erased"])
        assert (kept.metadata.actor, erased.metadata.actor) == ("kept-person", ERASED)
        # The same person keeps one subject: new data joins the old subject's key.
        _, again_subject = await person_run(services, "kept-person")
        [stored] = await services.store.pool.fetch(
            "SELECT metadata->>'actor' AS a FROM events WHERE stream_id = $1", made["kept"]
        )
        assert stored["a"].split(":")[2] == again_subject
        source = await services.repository.get(WebhookSource, UUID(older.id))
        with pytest.raises(SecretUnsealError):
            SecretBox(new_key).unseal(source.sealed_secret)  # the event itself: old key only
