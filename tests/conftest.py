"""Session fixtures: PostgreSQL and NATS (given by URL or embedded), a fresh migrated database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
import pytest_asyncio

from adapters.platform.embedded import ServerUrls, embedded_servers
from adapters.platform.settings import load_settings
from projections import catalog
from projections.runtime import Projector
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


@pytest_asyncio.fixture
async def fresh_conn(fresh_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to the test's own database."""
    conn = await asyncpg.connect(fresh_database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def projector(database_url: str) -> Iterator[None]:
    """Every projection kept up to date for the whole session, on a thread of its own.

    One for the session, defined here: imported into several modules it would run once per
    module, each holding a connection per projection until the session ends.

    Not on the test loop: the test client blocks that loop for the length of each request,
    so a request waiting for `min_position` would wait on a projector that cannot run.
    """
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(Projector(database_url, catalog.ALL).run(stop))

    thread = threading.Thread(target=serve, name="projector", daemon=True)
    thread.start()
    yield
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=30)
    loop.close()
