"""Audit integrity: databases of their own (tampering poisons a database), the real write side
and the real app over them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from adapters.embedded import ServerUrls
from adapters.http.app import create_app
from adapters.migrations import migrate
from adapters.services import Services, open_services
from adapters.settings import Settings
from tests.integration.audit_integrity.auditing import settings_for


@contextlib.asynccontextmanager
async def fresh_database(server: str, prefix: str) -> AsyncIterator[str]:
    """A new migrated database on `server`, dropped afterwards."""
    name = f"{prefix}_{uuid4().hex[:8]}"
    await _execute(server, f'CREATE DATABASE "{name}"')
    try:
        url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
        await migrate(url)
        yield url
    finally:
        await _execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def scratch_url(server_urls: ServerUrls) -> AsyncIterator[str]:
    """A database for one test: it may tamper with it, and counts on nobody else writing."""
    async with fresh_database(server_urls.database_url, "flowledger_audit") as url:
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
    app = create_app(scratch_settings, database_url=scratch_url, nats_url=nats_url)
    async with AsyncTestClient(app=app) as client:
        yield client
