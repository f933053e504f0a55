"""With PostgreSQL unreachable, the audit reads answer 503 with Retry-After, not a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import jwt
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings
from tests.integration.api.conftest import JWT_SECRET
from tests.integration.api.test_dependency_down import dead_port


async def test_every_audit_read_is_503_while_the_database_is_down(
    nats_url: str, tmp_path: Path
) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{dead_port()}/flowledger"
    settings = Settings(
        database_url=dead,
        nats_url=nats_url,
        data_dir=tmp_path,
        jwt_secret=JWT_SECRET,
        cipher_key=SecretBox.generate_key(),
        rate_limit_per_key=0,
        rate_limit_per_address=0,
    )
    now = datetime.now(UTC)
    # A bearer token is checked without the database, so the request reaches the route.
    claims = {"sub": "auditor", "scopes": ["admin"], "iat": now, "exp": now + timedelta(minutes=5)}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}
    some = uuid4()
    paths = [
        (f"/api/v1/pipeline-runs/{some}/history", {}),
        (f"/api/v1/pipeline-runs/{some}/history", {"format": "ndjson"}),
        (f"/api/v1/pipeline-runs/{some}/state", {"version": "1"}),
        (f"/api/v1/pipelines/{some}/state", {"at": now.isoformat()}),
        ("/api/v1/events", {}),
        (f"/api/v1/events/{some}/trace", {}),
    ]

    async with AsyncTestClient(app=api_app(settings, database_url=dead, nats_url=nats_url)) as http:
        for path, params in paths:
            response = await http.get(path, params=params, headers=headers)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["code"] == "dependency_unavailable"
            assert response.headers["Retry-After"] == "1"
