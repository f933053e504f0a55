"""Session fixtures: PostgreSQL and NATS (given by URL or embedded), a fresh migrated database."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
import pytest_asyncio

from adapters.platform.embedded import ServerUrls, embedded_servers
from adapters.platform.settings import load_settings
from tests.databases import own_database


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
    """A fresh, migrated database per session, dropped afterwards.

    Tests that append hand-made events no projection expects override it in their package
    (gateway, relay), so the views the other packages read never stop on those events.
    """
    async with own_database(server_urls, "flowledger_test") as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=20) as pool:
        yield pool


@pytest_asyncio.fixture
async def fresh_database_url(server_urls: ServerUrls) -> AsyncIterator[str]:
    """A migrated database of the test's own, for tests whose events or state must not leak."""
    async with own_database(server_urls, "flowledger_fresh") as url:
        yield url
