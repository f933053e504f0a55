"""An event store and the write side's services over the session database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from adapters.bootstrap import open_services
from adapters.platform.embedded import ServerUrls
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.store import EventStore
from domain.registry import default_registry
from tests.databases import own_database


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types=default_registry().stream_types()) as store:
        yield store


@pytest_asyncio.fixture(scope="session")
async def services(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Services]:
    """The command bus over the session database: events written the way commands write them."""
    settings = Settings(
        database_url=database_url,
        data_dir=Path(tmp_path_factory.mktemp("relay")),
        cipher_key=SecretBox.generate_key(),
    )
    async with open_services(settings, database_url) as services:
        yield services


@pytest_asyncio.fixture(scope="session")
async def database_url(server_urls: ServerUrls) -> AsyncIterator[str]:
    """This package's own database: its tests append hand-made events (no `occurred_at`, no
    definition) that the views of every other package would stop on as poison."""
    async with own_database(server_urls, "flowledger_relay") as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=20) as pool:
        yield pool
