"""The real app over a real database and NATS, driven in-process through litestar's test client.

The test client runs the app on its own thread and event loop, so tests never touch the app's
pools: they get their own `services` over the same database (same settings, same cipher key).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app, open_services
from adapters.platform.admin_key import create_key
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings

JWT_SECRET = "test-jwt-secret-that-is-long-enough-0123456789"


@pytest.fixture(scope="session")
def settings(
    database_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        database_url=database_url,
        nats_url=nats_url,
        data_dir=Path(tmp_path_factory.mktemp("api")),
        jwt_secret=JWT_SECRET,
        cipher_key=SecretBox.generate_key(),
        rate_limit_per_key=0,
        rate_limit_per_address=0,
        max_body_bytes=256 * 1024,
    )


@pytest.fixture(scope="session")
def app(settings: Settings, database_url: str, nats_url: str) -> Litestar:
    return api_app(settings, database_url=database_url, nats_url=nats_url)


@pytest_asyncio.fixture(scope="session")
async def services(settings: Settings, database_url: str) -> AsyncIterator[Services]:
    async with open_services(settings, database_url) as services:
        yield services


@pytest_asyncio.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app) as client:
        yield client


class Keys:
    """Mints API keys straight through the write side, as `flowledger keys create` does."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def make(
        self, *scopes: str, project_id: UUID | None = None, name: str = "test"
    ) -> dict[str, str]:
        _, token = await create_key(
            self.services,
            name=name,
            scopes=scopes,
            project_id=project_id,
            at=datetime.now(UTC),
        )
        return {"X-API-Key": token}


@pytest_asyncio.fixture(scope="session")
async def keys(services: Services) -> Keys:
    return Keys(services)


@pytest_asyncio.fixture(scope="session")
async def admin(keys: Keys) -> dict[str, str]:
    return await keys.make("admin", name="root")
