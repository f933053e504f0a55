"""What a batch of scheduled runs built ahead of its slot read, to tell at the slot whether it
still holds: each aggregate's version as read (0: there was none)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from commands.context import CommandContext
from commands.ports import Repository
from domain.envelope import EventMetadata
from domain.errors import AggregateNotFound
from domain.run import Run

A = TypeVar("A", bound=Aggregate)


class Built(msgspec.Struct, kw_only=True):
    """One slot's run as decided (or why its pipeline refused it), and what deciding read."""

    run: Run | str
    run_id: UUID
    context: CommandContext
    read: dict[UUID, int]


class ReadsKept:
    """The repository, to decide one slot's run: it notes the version of each aggregate read
    (its pipeline, loaded before, and any environment), none for nothing found."""

    def __init__(self, repository: Repository, pipeline_id: UUID, pipeline: Aggregate | None):
        self._repository = repository
        self.read: dict[UUID, int] = {pipeline_id: 0 if pipeline is None else pipeline.version}

    async def get(self, aggregate_cls: type[A], id: UUID, *, version: int | None = None) -> A:
        try:
            found = await self._repository.get(aggregate_cls, id, version=version)
        except AggregateNotFound:
            self.read[id] = 0
            raise
        self.read[id] = found.version
        return found

    async def get_to_read(self, aggregate_cls: type[A], id: UUID) -> A:
        return await self.get(aggregate_cls, id)

    async def get_many(self, aggregate_cls: type[A], ids: Collection[UUID]) -> dict[UUID, A]:
        found = await self._repository.get_many(aggregate_cls, ids)
        self.read.update({id: found[id].version if id in found else 0 for id in ids})
        return found

    async def get_many_to_append(
        self,
        aggregate_cls: type[A],
        ids: Collection[UUID],
        *,
        unread: Mapping[str, Mapping[str, Any]],
    ) -> dict[UUID, A]:
        return await self.get_many(aggregate_cls, ids)  # read, so its versions noted

    async def any_of(self, aggregate_cls: type[Aggregate]) -> bool:
        """Refused: whether any aggregate of a kind exists has no version to check later."""
        raise TypeError(f"a run decided ahead cannot rest on whether any {aggregate_cls} exists")

    async def save(self, aggregate: Aggregate, *, metadata: EventMetadata | None = None) -> Any:
        return await self._repository.save(aggregate, metadata=metadata)

    async def save_many(self, saves: Sequence[tuple[Aggregate, EventMetadata]]) -> Any:
        return await self._repository.save_many(saves)

    def encoded(self, saves: Sequence[tuple[Aggregate, EventMetadata]]) -> object:
        return self._repository.encoded(saves)

    async def save_encoded(self, encoded: object) -> Any:
        return await self._repository.save_encoded(encoded)

    async def versions(self, ids: Collection[UUID]) -> dict[UUID, int]:
        return await self._repository.versions(ids)


async def wait_until(moment: datetime) -> None:
    """Sleep until the wall clock reads `moment` (not a moment earlier: the event loop may
    wake a timer a millisecond early, so what is left is slept again)."""
    for _ in range(10):
        left = (moment - datetime.now(UTC)).total_seconds()
        if left <= 0:
            return
        await asyncio.sleep(left + 0.0005)
    raise TimeoutError(f"the clock did not reach {moment.isoformat()}")
