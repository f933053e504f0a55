"""Session fixtures: PostgreSQL and NATS (given by URL or embedded), a fresh migrated database."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
import msgspec
import pytest
import pytest_asyncio

from adapters.embedded import ServerUrls, embedded_servers
from adapters.settings import load_settings


@contextlib.contextmanager
def _server_dir() -> Iterator[Path]:
    # Not under tmp_path: as root, postgres runs as another user, and every pytest run
    # re-locks /tmp/pytest-of-root to 0700, which would lock that user out mid-session.
    path = Path(tempfile.mkdtemp(prefix="flowledger-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A fresh data folder for tests that start embedded servers themselves."""
    with _server_dir() as path:
        yield path


@pytest.fixture(scope="session")
def server_urls() -> Iterator[ServerUrls]:
    """FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL if set, else embedded servers."""
    with _server_dir() as data_dir:
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
