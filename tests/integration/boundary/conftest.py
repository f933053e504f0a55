"""The real app over the embedded servers (the API tests' fixtures), and a ledger to aim at:
a project whose pipelines every fuzzed command and delivery can reach, and a sign-in for each
webhook source kind."""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
import pytest_asyncio
from litestar.testing import AsyncTestClient

from adapters.store import reader
from tests.helpers import unique_id
from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    admin,
    app,
    client,
    keys,
    services,
    settings,
)

KINDS = ("github", "gitlab", "jenkins", "generic")
TRIGGERS = [
    {"source": "github", "events": ["push", "pull_request", "workflow_run"]},
    {"source": "gitlab", "events": ["pipeline"]},
    {"source": "jenkins", "events": ["build"]},
    {"source": "generic", "events": ["deploy"]},
]


class Ledger:
    """Where the fuzzing happens, and from which position on its events are to be checked."""

    def __init__(self, http: AsyncTestClient, headers: dict[str, str], pool: asyncpg.Pool):
        self.client = http
        self.admin = headers
        self.pool = pool
        self.start = 0
        self.project = ""
        self.pipeline = ""
        self.sources: dict[str, dict[str, str]] = {}
        self.sent = itertools.count(1)

    async def build(self) -> Ledger:
        self.start = await reader.head(self.pool)
        self.project = (await self.post("/api/v1/projects", name="b", slug=unique_id("b-")[:40]))[
            "id"
        ]
        self.pipeline = (
            await self.post(
                "/api/v1/pipelines",
                project_id=self.project,
                name="fuzzed",
                parameters=[
                    {"name": "TARGET", "default": "linux"},
                    {"name": "N", "type": "integer", "default": 1},
                    {"name": "X", "type": "number"},
                ],
                steps=[{"name": "build", "run": "make"}],
                triggers=TRIGGERS,
            )
        )["id"]
        for kind in KINDS:
            secret = unique_id("secret-")
            name = unique_id(f"{kind}-")[:40]
            registered = await self.post(
                "/api/v1/webhook-sources",
                project_id=self.project,
                kind=kind,
                name=name,
                secret=secret,
            )
            self.sources[kind] = {"id": registered["id"], "secret": secret}
        return self

    async def post(self, path: str, **body: Any) -> dict[str, Any]:
        answer = await self.client.post(path, json=body, headers=self.admin)
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def run(self) -> str:
        return (await self.post(f"/api/v1/pipelines/{self.pipeline}/runs"))["id"]


@pytest_asyncio.fixture(scope="module")
async def ledger(
    client: AsyncTestClient,  # noqa: F811  (the fixture)
    admin: dict[str, str],  # noqa: F811
    pool: asyncpg.Pool,
) -> Ledger:
    return await Ledger(client, admin, pool).build()
