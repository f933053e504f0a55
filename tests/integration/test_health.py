"""/health and /ready against the real PostgreSQL and NATS, and with each of them missing."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar.testing import AsyncTestClient

from adapters.http import create_app
from adapters.migrations import DEFAULT_DIRECTORY
from adapters.settings import Settings


def dead_port() -> int:
    """A local port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def client(
    database_url: str, nats_url: str, migrations_dir: Path | None = None
) -> AsyncIterator[AsyncTestClient]:
    app = create_app(
        Settings(), database_url=database_url, nats_url=nats_url, migrations_dir=migrations_dir
    )
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def test_health_answers_without_checking_anything(nats_url: str) -> None:
    dead_db = f"postgresql://postgres@127.0.0.1:{dead_port()}/nothing"
    async with client(dead_db, nats_url) as http:
        response = await http.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_everything_is_up(database_url: str, nats_url: str) -> None:
    async with client(database_url, nats_url) as http:
        response = await http.get("/ready")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "checks": {
            "postgres": {"ok": True},
            "nats": {"ok": True},
            "migrations": {"ok": True, "pending": []},
        },
    }


async def test_not_ready_while_nats_is_down_and_start_up_does_not_wait_for_it(
    database_url: str,
) -> None:
    started = time.monotonic()
    async with client(database_url, f"nats://127.0.0.1:{dead_port()}") as http:
        assert time.monotonic() - started < 10
        response = await http.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["nats"]["ok"] is False
    assert body["checks"]["nats"]["error"]
    assert body["checks"]["postgres"] == {"ok": True}


async def test_not_ready_while_a_migration_is_pending(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(DEFAULT_DIRECTORY, tmp_path / "sql"))
    (folder / "9999_not_yet.sql").write_text("SELECT 1;")

    async with client(database_url, nats_url, folder) as http:
        response = await http.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == {"ok": False, "pending": ["9999_not_yet"]}


async def test_not_ready_while_postgres_is_down(nats_url: str) -> None:
    dead_db = f"postgresql://postgres@127.0.0.1:{dead_port()}/nothing"
    async with client(dead_db, nats_url) as http:
        response = await http.get("/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["postgres"]["ok"] is False
    assert checks["postgres"]["error"]
    assert checks["migrations"]["ok"] is False
    assert checks["nats"] == {"ok": True}


async def test_errors_are_problem_details(database_url: str, nats_url: str) -> None:
    async with client(database_url, nats_url) as http:
        response = await http.get("/no-such-thing")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


async def test_openapi_is_served_at_docs(database_url: str, nats_url: str) -> None:
    async with client(database_url, nats_url) as http:
        page = await http.get("/docs")
        schema = await http.get("/docs/openapi.json")

    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert {"/health", "/ready"} <= set(schema.json()["paths"])


async def test_shutdown_drains_nats(database_url: str, nats_url: str) -> None:
    app = create_app(Settings(), database_url=database_url, nats_url=nats_url)
    async with AsyncTestClient(app=app):
        link = app.state.nats
        assert link.connected

    assert link.client.is_closed
