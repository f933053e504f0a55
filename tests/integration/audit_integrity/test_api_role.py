"""The `flowledger_api` database role (migration 0006): it appends and reads, and cannot
rewrite or remove history."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from adapters.audit.verify import verify_all
from adapters.bootstrap import api_app, open_services
from adapters.platform.settings import Settings
from tests.integration.audit_integrity.auditing import bearer, make_history, settings_for

ROLE = "flowledger_api"


def as_api_role(url: str) -> str:
    """The URL with the role set at connect time, as an operator would configure the API."""
    return f"{url}?options=-c%20role%3D{ROLE}"


async def test_the_role_exists_without_a_login(scratch_url: str) -> None:
    conn = await asyncpg.connect(scratch_url)
    try:
        role = await conn.fetchrow(
            "SELECT rolcanlogin, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1", ROLE
        )
    finally:
        await conn.close()

    assert role is not None
    assert tuple(role) == (False, False, False)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events SET type = type",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE idempotency_keys SET key = key",
        "DELETE FROM idempotency_keys",
    ],
)
async def test_the_role_may_not_update_or_delete_history(
    scratch_url: str, scratch_settings: Settings, sql: str
) -> None:
    async with open_services(scratch_settings, scratch_url) as services:
        await make_history(services)
    conn = await asyncpg.connect(scratch_url)
    try:
        await conn.execute(f"SET ROLE {ROLE}")
        assert await conn.fetchval("SELECT count(*) FROM events") > 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await conn.execute(sql)
    finally:
        await conn.close()


async def test_the_write_side_runs_as_the_role(
    scratch_url: str, scratch_settings: Settings
) -> None:
    async with open_services(scratch_settings, as_api_role(scratch_url)) as services:
        assert await services.store.pool.fetchval("SELECT current_user") == ROLE
        history = await make_history(services)  # appends through append_batch
        stored = await services.store.read_stream(str(history.runs[0]))

    assert [e.version for e in stored] == list(range(1, len(stored) + 1))
    conn = await asyncpg.connect(scratch_url)
    try:
        assert (await verify_all(conn)).ok
    finally:
        await conn.close()


async def test_the_role_reads_read_models_made_after_the_migration(scratch_url: str) -> None:
    schema = f"rm_later_{uuid4().hex[:8]}"
    conn = await asyncpg.connect(scratch_url)
    try:
        # As the projector does: the migrating role creates a read model's schema later on.
        await conn.execute(f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.rows (id int)")
        await conn.execute(f"INSERT INTO {schema}.rows VALUES (1)")
        await conn.execute(f"SET ROLE {ROLE}")
        assert await conn.fetchval(f"SELECT id FROM {schema}.rows") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f"DELETE FROM {schema}.rows")
    finally:
        await conn.close()


async def test_the_http_api_serves_commands_as_the_role(
    scratch_url: str, nats_url: str, tmp_path: Path
) -> None:
    url = as_api_role(scratch_url)
    settings = settings_for(url, nats_url, tmp_path)
    headers = {**bearer("admin"), "Idempotency-Key": uuid4().hex}
    body = {"name": "Role test", "slug": f"role-{uuid4().hex[:8]}"}

    async with AsyncTestClient(app=api_app(settings, database_url=url, nats_url=nats_url)) as h:
        created = await h.post("/api/v1/projects", json=body, headers=headers)
        again = await h.post("/api/v1/projects", json=body, headers=headers)
        ready = await h.get("/ready")

    assert created.status_code == 201, created.text
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == created.json()
    checks = ready.json()["checks"]  # it reads the migrations ledger and the checkpoints
    assert [checks[name]["ok"] for name in ("postgres", "migrations", "projections")] == [True] * 3


async def test_the_role_records_runner_heartbeats(scratch_url: str) -> None:
    runner = uuid4()
    conn = await asyncpg.connect(scratch_url)
    try:
        await conn.execute(f"SET ROLE {ROLE}")
        await conn.execute(
            "INSERT INTO runner_heartbeats (runner_id, seen_at) VALUES ($1, now())", runner
        )
        await conn.execute(
            "UPDATE runner_heartbeats SET seen_at = now() WHERE runner_id = $1", runner
        )
        await conn.execute("DELETE FROM runner_heartbeats WHERE runner_id = $1", runner)
    finally:
        await conn.close()
