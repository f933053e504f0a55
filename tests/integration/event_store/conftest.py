"""The event store contract runs against every PostgreSQL we can reach: the session's server
(embedded 18 by default) and, when it answers, the machine's own (15 here)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from adapters.platform.embedded import ServerUrls
from adapters.store import EventStore
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


BACKENDS = ["session"] + (["second"] if _second_server_answers() else [])


def pytest_report_header() -> str:
    return f"event store contract backends: {', '.join(BACKENDS)} (second = {SECOND_SERVER})"


@pytest_asyncio.fixture(scope="session", params=BACKENDS)
async def store_url(request: pytest.FixtureRequest, server_urls: ServerUrls) -> AsyncIterator[str]:
    """A database of its own: these tests append free-form events that no projection expects."""
    server = server_urls.database_url if request.param == "session" else SECOND_SERVER
    async with own_database(server, "flowledger_store_test") as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def store(store_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(store_url, stream_types=STREAM_TYPES, max_event_bytes=64 * 1024) as store:
        yield store
