"""With PostgreSQL unreachable, commands answer 503 with Retry-After, not a crash or a hang."""

from __future__ import annotations

import socket
from pathlib import Path
from uuid import uuid4

from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app
from adapters.platform.secrets import SecretBox, new_api_key
from adapters.platform.settings import Settings


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_command_while_the_database_is_down_is_503(nats_url: str, tmp_path: Path) -> None:
    dead = f"postgresql://postgres@127.0.0.1:{dead_port()}/flowledger"
    settings = Settings(
        database_url=dead,
        nats_url=nats_url,
        data_dir=tmp_path,
        cipher_key=SecretBox.generate_key(),
        rate_limit_per_key=0,
        rate_limit_per_address=0,
    )
    token, _ = new_api_key(uuid4())

    async with AsyncTestClient(app=api_app(settings, database_url=dead, nats_url=nats_url)) as http:
        response = await http.post(
            "/api/v1/projects", json={"name": "x", "slug": "x-y"}, headers={"X-API-Key": token}
        )

    assert response.status_code == 503, response.text
    assert response.json()["code"] == "dependency_unavailable"
    assert response.headers["Retry-After"] == "1"
