"""An event store over the session database, with every stream type of the domain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from adapters.event_store import EventStore
from domain.registry import default_registry


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types=default_registry().stream_types()) as store:
        yield store
