"""Past states: an aggregate rebuilt from its stream up to a version, or up to a moment.

Always the domain's own replay (the repository, as commands load aggregates), never a read
model: what is shown is what a command deciding at that point would have seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.domain import Aggregate

from adapters.audit.errors import BeforeStreamBegan, UnknownStream, VersionBeyondHead
from adapters.store import audit_reader, reader
from adapters.store.repository import Repository

A = TypeVar("A", bound=Aggregate)


class AsOf(msgspec.Struct, frozen=True, kw_only=True):
    """The last event a past state includes."""

    version: int
    position: int
    recorded_at: datetime
    event_type: str
    head_version: int
    """The stream's version today: how much happened since."""


async def version_at(
    conn: asyncpg.Connection | asyncpg.Pool, what: str, stream_id: UUID, at: datetime
) -> int:
    """The stream's version at `at`: every event before the first one recorded after it.

    A prefix, so a clock that ever stepped back cannot make a state skip an event.
    """
    row = await audit_reader.version_bounds(conn, str(stream_id), at)
    if row["head"] is None:
        raise UnknownStream(what, stream_id)
    version = row["head"] if row["first_after"] is None else row["first_after"] - 1
    if version < 1:
        raise BeforeStreamBegan(what, at.isoformat(), row["began"].isoformat())
    return version


async def replay(
    repository: Repository,
    conn: asyncpg.Connection | asyncpg.Pool,
    aggregate: type[A],
    what: str,
    stream_id: UUID,
    version: int,
) -> tuple[A, AsOf]:
    """The aggregate as it was after event `version` of its stream, and where that is."""
    row = await audit_reader.event_at(conn, str(stream_id), version)
    if row is None:
        head = await reader.stream_version(conn, str(stream_id))
        if head == 0:
            raise UnknownStream(what, stream_id)
        raise VersionBeyondHead(what, version, head)
    state = await repository.get(aggregate, stream_id, version=version)
    return state, AsOf(
        version=version,
        position=row["position"],
        recorded_at=row["recorded_at"],
        event_type=row["type"],
        head_version=row["head"],
    )
