"""The write side the gateway tests drive, and a relay of their own publishing to NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest_asyncio

from adapters.bootstrap import open_services
from adapters.platform.embedded import ServerUrls
from adapters.platform.settings import Settings
from adapters.store import EventStore
from adapters.streaming.relay import Relay, RelayConfig
from domain.registry import default_registry
from tests.databases import own_database
from tests.integration.gateway.gatewaying import JWT_SECRET
from tests.integration.relay.relaying import running, start_at_head, unique_config


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    async with EventStore(database_url, stream_types=default_registry().stream_types()) as store:
        yield store


@pytest_asyncio.fixture
async def services(database_url: str) -> AsyncIterator[Any]:
    async with open_services(Settings(jwt_secret=JWT_SECRET), database_url) as services:
        yield services


@pytest_asyncio.fixture
async def relay(database_url: str, nats_url: str) -> AsyncIterator[RelayConfig]:
    """A running relay with its own stream and prefix, starting at the current head."""
    config = unique_config()
    await start_at_head(database_url, config)
    async with running(Relay(database_url, nats_url, config)):
        yield config


@pytest_asyncio.fixture(scope="session")
async def database_url(server_urls: ServerUrls) -> AsyncIterator[str]:
    """This package's own database: its tests append hand-made events (no `occurred_at`, no
    definition) that the views of every other package would stop on as poison."""
    async with own_database(server_urls, "flowledger_gateway") as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=20) as pool:
        yield pool
