"""Audit integrity: databases of their own (tampering poisons a database), the real write side
and the real app over them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app, open_services
from adapters.platform.embedded import ServerUrls
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from tests.databases import own_database
from tests.integration.audit_integrity.auditing import settings_for


@pytest_asyncio.fixture
async def scratch_url(server_urls: ServerUrls) -> AsyncIterator[str]:
    """A database for one test: it may tamper with it, and counts on nobody else writing."""
    async with own_database(server_urls, "flowledger_audit") as url:
        yield url


@pytest.fixture
def scratch_settings(scratch_url: str, nats_url: str, tmp_path: Path) -> Settings:
    return settings_for(scratch_url, nats_url, tmp_path)


@pytest_asyncio.fixture
async def scratch_services(scratch_settings: Settings, scratch_url: str) -> AsyncIterator[Services]:
    async with open_services(scratch_settings, scratch_url) as services:
        yield services


@pytest_asyncio.fixture
async def scratch_client(
    scratch_settings: Settings, scratch_url: str, nats_url: str
) -> AsyncIterator[AsyncTestClient]:
    app = api_app(scratch_settings, database_url=scratch_url, nats_url=nats_url)
    async with AsyncTestClient(app=app) as client:
        yield client
