"""The event store contract runs against every implementation of the port: the in-memory store,
and the PostgreSQL store on every server we can reach: the session's (embedded 18 by default)
and, when it answers, the machine's own (15 here).

Tests of what only PostgreSQL has (other processes, lost connections, its own constructor
options) live in `postgres/`, whose conftest runs them on the PostgreSQL backends only: nothing
here is skipped on any backend."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from adapters.platform.embedded import ServerUrls
from adapters.store import EventStore
from adapters.store.memory import InMemoryEventStore
from tests.databases import own_database

SECOND_SERVER = os.environ.get(
    "FLOWLEDGER_TEST_SECOND_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
STREAM_TYPES = {"run", "pipeline", "project"}


def _second_server_answers() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(SECOND_SERVER, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


MEMORY = "memory"
BACKENDS = ["session"] + (["second"] if _second_server_answers() else [])


def pytest_report_header() -> str:
    backends = ", ".join([*BACKENDS, MEMORY])
    return f"event store contract backends: {backends} (second = {SECOND_SERVER})"


@pytest.fixture(scope="session", params=[*BACKENDS, MEMORY])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest_asyncio.fixture(scope="session")
async def backend_database(backend: str, server_urls: ServerUrls) -> AsyncIterator[str | None]:
    """A database of its own (None for the in-memory backend): these tests append free-form
    events that no projection expects."""
    if backend == MEMORY:
        yield None
        return
    server = server_urls.database_url if backend == "session" else SECOND_SERVER
    async with own_database(server, "flowledger_store_test") as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def store(backend_database: str | None) -> AsyncIterator[EventStore]:
    """The store under contract; typed as the PostgreSQL one, which the in-memory one mirrors."""
    if backend_database is None:
        async with InMemoryEventStore(
            stream_types=STREAM_TYPES, max_event_bytes=64 * 1024
        ) as memory:
            yield memory  # type: ignore[misc]
        return
    async with EventStore(
        backend_database, stream_types=STREAM_TYPES, max_event_bytes=64 * 1024
    ) as store:
        yield store
