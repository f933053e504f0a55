"""Session fixtures: PostgreSQL and NATS (given by URL or embedded), a fresh migrated database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
import msgspec
import pytest
import pytest_asyncio

from adapters.embedded import ServerUrls, embedded_servers
from adapters.settings import load_settings


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerUrls]:
    """FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL if set, else embedded servers."""
    data_dir = tmp_path_factory.mktemp("servers")
    # An empty cwd keeps the developer's .env files out of the test run.
    settings = load_settings(os.environ, cwd=data_dir)
    settings = msgspec.structs.replace(settings, data_dir=data_dir)
    with embedded_servers(settings, log=lambda _: None) as urls:
        yield urls


@pytest.fixture(scope="session")
def nats_url(server_urls: ServerUrls) -> str:
    return server_urls.nats_url


@pytest_asyncio.fixture(scope="session")
async def database_url(server_urls: ServerUrls) -> AsyncIterator[str]:
    """A fresh, migrated database per session, dropped afterwards."""
    from adapters.migrations import migrate  # imported late: written alongside these fixtures

    name = f"flowledger_test_{uuid4().hex[:8]}"
    await _execute(server_urls.database_url, f'CREATE DATABASE "{name}"')
    try:
        url = urlunsplit(urlsplit(server_urls.database_url)._replace(path=f"/{name}"))
        await migrate(url)
        yield url
    finally:
        await _execute(server_urls.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=20) as pool:
        yield pool


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
