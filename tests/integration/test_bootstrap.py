"""The first start's admin key and `flowledger keys create`, each on a database of its own."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID, uuid4

import asyncpg
import pytest_asyncio
from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.testing import AsyncTestClient

from adapters.bootstrap import open_services as open_write_side
from adapters.http.security import FlowledgerAuthentication
from adapters.platform.admin_key import ensure_admin_key
from adapters.platform.embedded import ServerUrls
from adapters.platform.secrets import SecretBox
from adapters.platform.services import RandomSecrets, Services
from adapters.platform.settings import Settings
from adapters.store.heartbeats import PgHeartbeats
from adapters.store.migrations import migrate
from commands.bus import CommandBus, Dependencies
from commands.context import Principal
from commands.handlers import HANDLERS

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(cipher_key=SecretBox.generate_key())


@pytest_asyncio.fixture
async def fresh_database_url(server_urls: ServerUrls) -> AsyncIterator[str]:
    """A migrated database with no API key in it yet."""
    name = f"flowledger_bootstrap_{uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_urls.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(server_urls.database_url)._replace(path=f"/{name}"))
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def open_services(database_url: str) -> AsyncIterator[Services]:
    """One process's view: its own pool, store, repository and command bus."""
    async with open_write_side(SETTINGS, database_url) as services:
        yield services


@get("/whoami", sync_to_thread=False)
def whoami(request: Request[Principal, Any, Any]) -> dict[str, Any]:
    user = request.user
    return {"name": user.name, "project_id": user.project_id, "scopes": sorted(user.scopes)}


async def authenticate(database_url: str, token: str) -> dict[str, Any]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services(database_url) as app.state.services:
            yield

    app = Litestar(
        route_handlers=[whoami],
        middleware=[DefineMiddleware(FlowledgerAuthentication)],
        lifespan=[lifespan],
        state=State({"settings": Settings()}),
    )
    async with AsyncTestClient(app=app) as http:
        response = await http.get("/whoami", headers={"X-API-Key": token})
    assert response.status_code == 200, response.text
    return response.json()


async def api_key_streams(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(
            "SELECT count(DISTINCT stream_id) FROM events WHERE stream_type = 'api_key'"
        )
    finally:
        await conn.close()


async def test_the_first_start_issues_an_admin_key_once(fresh_database_url: str) -> None:
    async with open_services(fresh_database_url) as services:
        token = await ensure_admin_key(services, at=NOW)
        again = await ensure_admin_key(services, at=NOW)

    assert token is not None
    assert again is None
    assert await authenticate(fresh_database_url, token) == {
        "name": "bootstrap admin",
        "project_id": None,
        "scopes": ["admin"],
    }
    assert await api_key_streams(fresh_database_url) == 1


class CheckingTogether:
    """A process's repository whose check for existing keys waits for the other's check."""

    def __init__(self, repository: Any, barrier: asyncio.Barrier) -> None:
        self._repository = repository
        self._barrier = barrier

    async def any_of(self, aggregate_cls: type) -> bool:
        found = await self._repository.any_of(aggregate_cls)
        await self._barrier.wait()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repository, name)


def checking_together(services: Services, barrier: asyncio.Barrier) -> SimpleNamespace:
    """`services` whose bus checks for existing keys together with the other process."""
    dependencies = Dependencies(
        repository=CheckingTogether(services.repository, barrier),
        sealer=services.box,
        secrets=RandomSecrets(),
        heartbeats=PgHeartbeats(services.store.pool),
    )
    return SimpleNamespace(bus=CommandBus(HANDLERS, dependencies))


async def test_two_processes_starting_together_issue_one_key(fresh_database_url: str) -> None:
    both_checked = asyncio.Barrier(2)  # so both see "no key yet" and both try to issue one
    async with (
        open_services(fresh_database_url) as first,
        open_services(fresh_database_url) as second,
    ):
        tokens = await asyncio.gather(
            ensure_admin_key(checking_together(first, both_checked), at=NOW),
            ensure_admin_key(checking_together(second, both_checked), at=NOW),
        )

    issued = [token for token in tokens if token is not None]
    assert len(issued) == 1
    assert await api_key_streams(fresh_database_url) == 1
    assert (await authenticate(fresh_database_url, issued[0]))["scopes"] == ["admin"]


async def test_keys_create_prints_a_working_token_once(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    project_id = uuid4()
    env = {
        **os.environ,
        "FLOWLEDGER_DATABASE_URL": fresh_database_url,
        "FLOWLEDGER_NATS_URL": nats_url,
        "FLOWLEDGER_DATA_DIR": str(tmp_path / "data"),
    }
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "adapters.cli.main", "keys", "create", "--name", "ci"],
        *["--scopes", "read,write", "--project", str(project_id), "--expires-in-days", "7"],
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, err.decode()
    shown = dict(line.split(":", 1) for line in out.decode().splitlines())
    key_id, token = UUID(shown["key id"].strip()), shown["token"].strip()
    assert token.startswith(f"flk_{key_id.hex}_")
    assert "shown this once" in err.decode()
    assert await authenticate(fresh_database_url, token) == {
        "name": "ci",
        "project_id": str(project_id),
        "scopes": ["read", "write"],
    }
