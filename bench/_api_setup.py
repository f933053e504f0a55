"""What a bench sets up before it sends commands through the API: an admin key, and a pipeline
of three steps in a project of its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from adapters.bootstrap import open_services
from adapters.platform.admin_key import create_key
from adapters.platform.settings import load_settings
from bench._http_client import Answer, Client

STEPS = ("build", "test", "deploy")


async def admin_key(env: dict[str, str]) -> str:
    settings = load_settings(env, cwd=Path(env["FLOWLEDGER_DATA_DIR"]))
    async with open_services(settings, env["FLOWLEDGER_DATABASE_URL"]) as services:
        _, key = await create_key(
            services, name="bench", scopes=("admin",), project_id=None, at=datetime.now(UTC)
        )
    return key


async def make_pipeline(port: int, key: str) -> str:
    client = Client(port, {"X-API-Key": key})
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    status, body = await client.post(
        "/api/v1/projects", msgspec.json.encode({"name": "bench", "slug": slug})
    )
    assert status == 201, body
    steps = [{"name": s, "run": f"make {s}", "needs": STEPS[:i][-1:]} for i, s in enumerate(STEPS)]
    project = msgspec.json.decode(body, type=Answer).id
    pipeline = {"project_id": project, "name": "ci", "steps": steps}
    status, body = await client.post("/api/v1/pipelines", msgspec.json.encode(pipeline))
    await client.close()
    assert status == 201, body
    return msgspec.json.decode(body, type=Answer).id
