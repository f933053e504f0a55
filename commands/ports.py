"""What the command side needs from the outside, as small protocols the adapters implement."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from domain.envelope import EventMetadata
from domain.webhook_source import WebhookSource

if TYPE_CHECKING:
    from commands.context import CommandContext

A = TypeVar("A", bound=Aggregate)


class VersionConflict(Exception):
    """The stream moved on between load and append; nothing was written."""

    code = "version_conflict"


class ReadMoved(VersionConflict):
    """An aggregate the command only read (`Repository.get_to_read`) moved on before its append
    committed; nothing was written. Deciding again on the fresh state is always safe."""

    code = "read_moved"


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

    async def get_to_read(self, aggregate_cls: type[A], id: UUID) -> A:
        """`get`, for a command that only reads the aggregate (never changes or saves it, and
        reads nothing of it but its id and owner after its next await): a caching repository
        may then share one copy among concurrent commands rather than lend it to one. It may
        also answer it unread, and check it with the command's append instead (read guards): a
        handler that uses it makes one append at most, or tolerates being decided again after
        `ReadMoved` (the bus does so whatever `retry_on_conflict` says)."""

    async def any_of(self, aggregate_cls: type[Aggregate]) -> bool:
        """Whether any aggregate of this kind was ever saved (its stream exists)."""

    async def save_many(
        self, saves: Sequence[tuple[Aggregate, EventMetadata]]
    ) -> Sequence[Appended | Exception]:
        """Each aggregate's pending events at once, each checked by its own expected version:
        per aggregate its append, or the error (a VersionConflict...) it met alone."""

    async def get_many(self, aggregate_cls: type[A], ids: Collection[UUID]) -> dict[UUID, A]:
        """The aggregates found, read in one go (an id with none is left out)."""

    async def get_many_to_append(
        self,
        aggregate_cls: type[A],
        ids: Collection[UUID],
        *,
        unread: Mapping[str, Mapping[str, Any]],
    ) -> dict[UUID, A]:
        """`get_many`, where an aggregate may be as this process last read it (not read again),
        with the fields `unread` names (per event type) blanked: only for a command that appends
        what it decides on them, whose append expects their version (a stale one conflicts), and
        that reads none of those fields."""

    async def versions(self, ids: Collection[UUID]) -> dict[UUID, int]:
        """Each aggregate's version now (0: none yet), in one read."""

    def encoded(self, saves: Sequence[tuple[Aggregate, EventMetadata]]) -> object:
        """`save_many`'s first half: the pending events encoded now, nothing written."""

    async def save_encoded(self, encoded: object) -> Sequence[Appended | Exception]:
        """`save_many`'s second half: what `encoded` made, appended as `save_many` would."""


class SecretSealer(Protocol):
    """Keeps a secret outside the events; what an event may hold instead (a reference)."""

    async def seal(self, plain: str) -> str: ...

    async def forget(self, sealed: str) -> bool:
        """Make what `sealed` stands for unrecoverable; False if nothing was kept for it (an
        older event that holds the value sealed in itself cannot be changed)."""


class DataSubjects(Protocol):
    """The data subjects' keys, kept outside the events table: deleting one erases a person."""

    async def exists(self, subject_id: str) -> bool: ...

    async def forget(self, subject_id: str) -> bool:
        """Delete the subject's key; False if it was already gone."""


class SecretValues(Protocol):
    """Project secrets' values, encrypted outside the events table (`adapters/secrets/`).

    A value is staged under its version before the event saying so is appended, and committed
    (made revealable) only after: no value is ever revealed that no event recorded.
    """

    def fingerprint(self, secret_id: UUID, value: str) -> str:
        """A keyed MAC of the value: what the event records instead of it."""

    async def stage(self, secret_id: UUID, project_id: UUID, version: int, value: str) -> UUID:
        """Keep the value encrypted under a fresh data key, not yet revealed; its token."""

    async def commit(self, secret_id: UUID, token: UUID, version: int) -> None:
        """Reveal the staged value from now on, destroying every older version."""

    async def discard(self, token: UUID) -> None: ...

    async def shred(self, secret_id: UUID, upto_version: int) -> None:
        """Destroy every value of the secret up to that version (crypto-shredding)."""


class RevealedSecret(msgspec.Struct, frozen=True, kw_only=True):
    value: str
    version: int
    environment: str | None = None
    pipeline_id: UUID | None = None

    def __repr__(self) -> str:
        return f"RevealedSecret(version={self.version}, value=<redacted>)"


class SecretReader(Protocol):
    """Project secrets' newest values, for the attempt of a step that declares them."""

    async def reveal(
        self,
        project_id: UUID,
        name: str,
        *,
        environment: str | None = None,
        pipeline_id: UUID | None = None,
    ) -> RevealedSecret | None:
        """The newest value of the narrowest scope holding one: bound to `environment`, then
        bound to `pipeline_id`, then project-wide."""


class NewApiKey(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    """Shown once to whoever asked for the key; never stored."""
    secret_hash: str
    prefix: str
    """The token's non-secret start, kept to recognise the key in listings."""


class Secrets(Protocol):
    """Randomness the domain must not call: new API keys and webhook secrets."""

    def new_api_key(self, key_id: UUID) -> NewApiKey: ...

    def new_webhook_secret(self) -> str: ...


class AdmittedDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook delivery its source proved it sent, and what recording it takes."""

    source: WebhookSource
    """As the decision read it (a read guard of the record's append)."""
    event: str
    headers: dict[str, str]
    """The recorded ones only."""
    content_type: str
    payload: str
    """The body as received, known to be a JSON object in UTF-8."""


class WebhookGate(Protocol):
    """What a handler cannot do alone to take in a webhook delivery (adapters/webhooks/gate.py):
    find the source the URL names, check the signature with the secrets that source accepts at
    `at`, and read the provider's headers and body. Each refusal is raised as the caller's
    answer. The source is read through `repository`, the handler's: the read guards of the
    bus's attempt cover it."""

    async def admit(
        self,
        kind: str,
        ref: str | None,
        *,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes,
        at: datetime,
        repository: Repository,
    ) -> AdmittedDelivery: ...


class CommandObserver(Protocol):
    """Watches each command as the bus handles it (tracing, metrics), without the bus knowing how.

    `observe` wraps one handling: it may hand the handler a context carrying a new traceparent
    (the command's own span), so the events it appends name that span.
    """

    def observe(
        self, command: object, context: CommandContext
    ) -> contextlib.AbstractContextManager[CommandContext]: ...


class Heartbeats(Protocol):
    """Where runners' liveness is kept: heartbeats are far too frequent to be events."""

    async def beat(self, runner_id: UUID, at: datetime, jobs: Sequence[Mapping[str, Any]]) -> None:
        """Remember that the runner was alive at `at`, running `jobs`."""

    async def forget(self, runner_id: UUID) -> None:
        """The runner is gone for good (deregistered): stop watching it."""


class Poison(msgspec.Struct, frozen=True, kw_only=True):
    event_id: UUID
    stream_id: str


class Quarantines(Protocol):
    """What the views hold aside (answered by the projections' quarantine table)."""

    async def known(self, projection: str) -> bool:
        """Whether a view of that name is served."""

    async def poison_at(self, projection: str, position: int) -> Poison | None:
        """The event at `position`, if it is the poison of a stream quarantined in the view."""
