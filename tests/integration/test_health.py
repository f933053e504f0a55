"""/health and /ready against the real PostgreSQL and NATS, and with each of them missing."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app
from adapters.platform.settings import Settings
from adapters.store import EventStore, NewEvent
from adapters.store.migrations import DEFAULT_DIRECTORY


def dead_port() -> int:
    """A local port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def client(
    database_url: str,
    nats_url: str,
    migrations_dir: Path | None = None,
    *,
    max_lag_s: int = 60,
) -> AsyncIterator[AsyncTestClient]:
    app = api_app(
        Settings(ready_max_lag_s=max_lag_s),
        database_url=database_url,
        nats_url=nats_url,
        migrations_dir=migrations_dir,
    )
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def test_health_answers_without_checking_anything(nats_url: str) -> None:
    dead_db = f"postgresql://postgres@127.0.0.1:{dead_port()}/nothing"
    async with client(dead_db, nats_url) as http:
        response = await http.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_everything_is_up(fresh_database_url: str, nats_url: str) -> None:
    async with client(fresh_database_url, nats_url) as http:
        response = await http.get("/ready")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "checks": {
            "postgres": {"ok": True},
            "nats": {"ok": True},
            "migrations": {"ok": True, "pending": []},
            "projections": {"ok": True, "lag_seconds": {}},
        },
    }


async def _checkpoint(url: str, name: str, *, state: str = "running", behind_s: float) -> None:
    """Two events `behind_s` apart, and a view that has applied only the first."""
    conn = await asyncpg.connect(url)
    try:
        store_events = await conn.fetchval("SELECT count(*) FROM events")
        assert store_events == 0
        await conn.execute(
            "INSERT INTO projection_checkpoints (name, version, position, state, error) "
            "VALUES ($1, 1, 1, $2, $3)",
            name,
            state,
            "poison" if state == "failed" else None,
        )
    finally:
        await conn.close()
    await _append_two(url, behind_s)


async def _append_two(url: str, apart_s: float) -> None:
    async with EventStore(url, stream_types={"project"}) as store:
        for version in (0, 1):
            event = NewEvent(type="HealthProbeRecorded", data={"n": version})
            await store.append("health-probe", "project", [event], expected_version=version)
    conn = await asyncpg.connect(url)
    try:
        # Back-date the first: the only way to make a lag of minutes without waiting minutes.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(
            "UPDATE events SET recorded_at = recorded_at - make_interval(secs => $1) "
            "WHERE position = 1",
            apart_s,
        )
    finally:
        await conn.close()


async def test_not_ready_while_a_view_lags_beyond_the_bound(
    fresh_database_url: str, nats_url: str
) -> None:
    await _checkpoint(fresh_database_url, "runs", behind_s=120)
    async with client(fresh_database_url, nats_url, max_lag_s=60) as http:
        lagging = await http.get("/ready")
    async with client(fresh_database_url, nats_url, max_lag_s=0) as http:
        reported = await http.get("/ready")

    assert lagging.status_code == 503, lagging.text
    check = lagging.json()["checks"]["projections"]
    assert check["ok"] is False and check["error"] == "lagging over 60s"
    assert check["lag_seconds"]["runs"] >= 119
    assert reported.status_code == 200, "with no bound, lag is reported only"
    assert reported.json()["checks"]["projections"]["lag_seconds"]["runs"] >= 119


async def test_not_ready_while_a_view_is_stopped_at_a_poison_event(
    fresh_database_url: str, nats_url: str
) -> None:
    await _checkpoint(fresh_database_url, "pipelines", state="failed", behind_s=0)
    async with client(fresh_database_url, nats_url, max_lag_s=0) as http:
        response = await http.get("/ready")

    assert response.status_code == 503
    check = response.json()["checks"]["projections"]
    assert check["failed"] == ["pipelines"] and check["error"] == "stopped: pipelines"


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
        viewer = await http.get("/docs/assets/scalar.js")

    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    # Offline: the viewer's files come from the server itself, nothing from a CDN.
    assert "http://" not in page.text and "https://" not in page.text
    assert viewer.status_code == 200 and "javascript" in viewer.headers["content-type"]
    assert {"/health", "/ready"} <= set(schema.json()["paths"])


async def test_shutdown_drains_nats(database_url: str, nats_url: str) -> None:
    app = api_app(Settings(), database_url=database_url, nats_url=nats_url)
    async with AsyncTestClient(app=app):
        link = app.state.nats
        assert link.connected

    assert link.client.is_closed


async def test_a_view_this_release_no_longer_serves_does_not_count(
    fresh_database_url: str, nats_url: str
) -> None:
    await _checkpoint(fresh_database_url, "a_retired_view", state="failed", behind_s=600)
    async with client(fresh_database_url, nats_url, max_lag_s=60) as http:
        response = await http.get("/ready")

    assert response.status_code == 200, response.text
    assert response.json()["checks"]["projections"] == {"ok": True, "lag_seconds": {}}
