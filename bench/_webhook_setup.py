"""What bench/webhooks.py (and bench/intake_drain.py) set up before sending: a fresh migrated
database with an admin key, and a project whose github source has a known secret."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec

from bench._http_client import Answer, Client

SECRET = "bench-" + "s3cr3t" * 6  # the source's known secret (16 to 256 characters)


async def setup(env: dict[str, str], server_db: str) -> str:
    """A fresh migrated database (into `env`) and an admin key for it."""
    from datetime import UTC, datetime
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    from adapters.bootstrap import open_services
    from adapters.platform.admin_key import create_key
    from adapters.platform.settings import load_settings
    from adapters.store.migrations import migrate

    name = f"flowledger_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server_db)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    env["FLOWLEDGER_DATABASE_URL"] = url = urlunsplit(urlsplit(server_db)._replace(path=f"/{name}"))
    await migrate(url)
    settings = load_settings(env, cwd=Path(env["FLOWLEDGER_DATA_DIR"]))  # no .env files there
    async with open_services(settings, url) as services:
        at = datetime.now(UTC)
        _, key = await create_key(services, name="bench", scopes=("admin",), project_id=None, at=at)
    return key


async def register_source(port: int, key: str, with_pipeline: bool) -> str:
    """A project and its `github` source with SECRET, through the HTTP API: the source's id.
    With a pipeline that every push starts, when the intake runs."""
    client = Client(port, {"X-API-Key": key})
    project = {"name": "bench", "slug": f"bench-{uuid.uuid4().hex[:8]}"}
    status, body = await client.post("/api/v1/projects", msgspec.json.encode(project))
    assert status == 201, body
    project_id = msgspec.json.decode(body, type=Answer).id
    if with_pipeline:
        pipeline = {"project_id": project_id, "name": "ci", "steps": [{"name": "b", "run": "make"}],
                    "triggers": [{"source": "github", "events": ["push"]}]}  # fmt: skip
        status, answer = await client.post("/api/v1/pipelines", msgspec.json.encode(pipeline))
        assert status == 201, answer
    source = {"project_id": project_id, "kind": "github"}
    source |= {"name": "bench-github", "secret": SECRET}
    status, body = await client.post("/api/v1/webhook-sources", msgspec.json.encode(source))
    await client.close()
    assert status == 201, body
    return msgspec.json.decode(body, type=Answer).id
