"""API key commands through the bus, on a tiny in-memory repository: the token shown once, its
prefix from the Secrets port, and the first start's admin key issued on an empty store only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate

from commands.api_keys import (
    FIRST_ADMIN_KEY_ID,
    IssueApiKey,
    IssueFirstAdminKey,
)
from commands.bus import CommandBus, Dependencies
from commands.context import CommandContext, Forbidden, Principal
from commands.handlers import HANDLERS
from commands.outcome import SecretShown
from commands.ports import NewApiKey, VersionConflict
from domain.api_key import ApiKey

AT = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Saved:
    stream_id: str
    to_version: int
    last_position: int
    duplicate: bool = False


class Streams:
    """Aggregates by id; a new aggregate on a taken stream is a conflict, as in the store."""

    def __init__(self, *, taken_by_someone_else: bool = False) -> None:
        self.saved: dict[UUID, Aggregate] = {}
        self._taken = taken_by_someone_else

    async def save(self, aggregate: Aggregate, *, metadata: object = None) -> Saved | None:
        pending = aggregate.collect_events()
        if not pending:
            return None
        if self._taken or (aggregate.id in self.saved and pending[0].originator_version == 1):
            raise VersionConflict("stream taken")
        self.saved[aggregate.id] = aggregate
        return Saved(str(aggregate.id), aggregate.version, len(self.saved))

    async def get(self, aggregate_cls: type, id: UUID, *, version: int | None = None) -> object:
        return self.saved[id]

    async def any_of(self, aggregate_cls: type[Aggregate]) -> bool:
        return any(isinstance(a, aggregate_cls) for a in self.saved.values())


class FixedSecrets:
    def new_api_key(self, key_id: UUID) -> NewApiKey:
        return NewApiKey(token=f"tok-{key_id.hex}", secret_hash="h" * 64, prefix=f"p-{key_id.hex}")

    def new_webhook_secret(self) -> str:
        return "w" * 43


def bus(streams: Streams) -> CommandBus:
    deps = Dependencies(repository=streams, sealer=None, secrets=FixedSecrets(), heartbeats=None)  # type: ignore[arg-type]
    return CommandBus(HANDLERS, deps)


def as_(name: str, *scopes: str, project_id: UUID | None = None) -> CommandContext:
    principal = Principal(id=name, name=name, project_id=project_id, scopes=frozenset(scopes))
    return CommandContext(principal=principal, at=AT, correlation_id="c")


async def test_an_issued_key_shows_its_token_once_and_keeps_the_ports_prefix() -> None:
    streams = Streams()

    issued = await bus(streams).dispatch(
        IssueApiKey(name="ci", scopes=("read",)), as_("ops", "admin")
    )

    assert isinstance(issued, SecretShown)
    key = streams.saved[UUID(issued.id)]
    assert isinstance(key, ApiKey)
    assert (issued.secret, key.prefix) == (f"tok-{key.id.hex}", f"p-{key.id.hex}")
    assert key.issued_by == "ops"


async def test_only_an_admin_issues_keys() -> None:
    with pytest.raises(Forbidden):
        await bus(Streams()).dispatch(IssueApiKey(name="ci", scopes=("read",)), as_("dev", "write"))


async def test_the_first_admin_key_is_issued_on_a_store_without_keys() -> None:
    streams = Streams()

    first = await bus(streams).dispatch(IssueFirstAdminKey(), as_("flowledger bootstrap", "admin"))

    assert isinstance(first, SecretShown)
    assert (first.id, first.secret) == (str(FIRST_ADMIN_KEY_ID), f"tok-{FIRST_ADMIN_KEY_ID.hex}")
    key = streams.saved[FIRST_ADMIN_KEY_ID]
    assert isinstance(key, ApiKey)
    assert (key.scopes, key.project_id, key.issued_by) == (
        ("admin",),
        None,
        "flowledger bootstrap",
    )


async def test_no_first_admin_key_once_any_key_was_issued() -> None:
    streams = Streams()
    await bus(streams).dispatch(IssueApiKey(name="ci", scopes=("read",)), as_("ops", "admin"))

    again = await bus(streams).dispatch(IssueFirstAdminKey(), as_("flowledger bootstrap", "admin"))

    assert isinstance(again, SecretShown)
    assert (again.secret, again.position) == (None, None)
    assert FIRST_ADMIN_KEY_ID not in streams.saved


async def test_a_process_that_loses_the_race_for_the_first_key_issues_nothing() -> None:
    streams = Streams(taken_by_someone_else=True)

    lost = await bus(streams).dispatch(IssueFirstAdminKey(), as_("flowledger bootstrap", "admin"))

    assert isinstance(lost, SecretShown) and lost.secret is None
