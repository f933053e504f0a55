"""The write side a process works with: event store, repository, command bus, secrets.

Built by adapters.bootstrap; this module only names its parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from adapters.platform import secrets
from adapters.platform.settings import Settings
from adapters.secrets.kept import KeptSecrets
from adapters.store import EventStore
from adapters.store.repository import Repository
from commands.bus import CommandBus
from commands.ports import NewApiKey


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
    box: KeptSecrets
