"""What the command side needs from the outside, as small protocols the adapters implement."""

from __future__ import annotations

from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.envelope import EventMetadata

A = TypeVar("A", bound=Aggregate)


class VersionConflict(Exception):
    """The stream moved on between load and append; nothing was written."""

    code = "version_conflict"


class Appended(Protocol):
    """What an append reports back: enough for a command's answer."""

    @property
    def stream_id(self) -> str: ...
    @property
    def to_version(self) -> int: ...
    @property
    def last_position(self) -> int: ...
    @property
    def duplicate(self) -> bool: ...


class Repository(Protocol):
    async def save(
        self, aggregate: Aggregate, *, metadata: EventMetadata | None = None
    ) -> Appended | None: ...

    async def get(self, aggregate_cls: type[A], id: UUID, *, version: int | None = None) -> A: ...


class SecretSealer(Protocol):
    """Encrypts a secret before it goes into an event (events are kept forever)."""

    def seal(self, plain: str) -> str: ...


class Secrets(Protocol):
    """Randomness the domain must not call: new API keys and webhook secrets."""

    def new_api_key(self, key_id: UUID) -> tuple[str, str]:
        """`(token shown once, hash to store)`."""

    def new_webhook_secret(self) -> str: ...
