"""An event store and the write side's services over the session database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from adapters.event_store import EventStore
from adapters.secrets import SecretBox
from adapters.services import Services, open_services
from adapters.settings import Settings
from domain.registry import default_registry


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
