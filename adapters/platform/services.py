"""The composition root for the write side: event store, repository, command bus, secrets."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from adapters.platform import secrets
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings, resolve_cipher_key
from adapters.store import EventStore
from adapters.store.heartbeats import PgHeartbeats
from adapters.store.repository import Repository
from adapters.telemetry.observer import TelemetryObserver
from adapters.webhooks.limits import MAX_EVENT_BYTES as MAX_DELIVERY_EVENT_BYTES
from commands.bus import CommandBus, Dependencies
from commands.handlers import HANDLERS
from commands.ports import NewApiKey
from domain.registry import default_registry


class RandomSecrets:
    """The randomness handlers must not call themselves: API keys and webhook secrets."""

    def new_api_key(self, key_id: UUID) -> NewApiKey:
        token, secret_hash = secrets.new_api_key(key_id)
        prefix = secrets.api_key_prefix(key_id)
        return NewApiKey(token=token, secret_hash=secret_hash, prefix=prefix)

    def new_webhook_secret(self) -> str:
        return secrets.new_webhook_secret()


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: EventStore
    repository: Repository
    bus: CommandBus
    box: SecretBox


@contextlib.asynccontextmanager
async def open_services(settings: Settings, database_url: str) -> AsyncIterator[Services]:
    registry = default_registry()
    async with EventStore(
        database_url,
        stream_types=registry.stream_types(),
        max_event_bytes=settings.max_event_bytes,
        max_event_bytes_by_stream_type={"webhook_delivery": MAX_DELIVERY_EVENT_BYTES},
    ) as store:
        repository = Repository(store, registry)
        box = SecretBox(resolve_cipher_key(settings))
        bus = CommandBus(
            HANDLERS,
            Dependencies(
                repository=repository,
                sealer=box,
                secrets=RandomSecrets(),
                heartbeats=PgHeartbeats(store.pool),
            ),
            observer=TelemetryObserver(),
        )
        yield Services(settings=settings, store=store, repository=repository, bus=bus, box=box)
