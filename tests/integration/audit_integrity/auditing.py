"""Helpers for the audit tests: real history made through the bus, tampering as a superuser."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import jwt

from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from commands.run_reports import LogChunk
from domain.step_spec import StepSpec
from tests.integration.read_models.conftest import Driver

JWT_SECRET = "audit-test-jwt-secret-that-is-long-enough-0123"


def settings_for(url: str, nats_url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        nats_url=nats_url,
        data_dir=data_dir,
        jwt_secret=JWT_SECRET,
        cipher_key=SecretBox.generate_key(),
        rate_limit_per_key=0,
        rate_limit_per_address=0,
    )


def bearer(*scopes: str, project: UUID | None = None) -> dict[str, str]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "auditor",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "scopes": list(scopes),
        "project": str(project) if project else "*",
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


@dataclass(frozen=True)
class Link:
    position: int
    version: int
    type: str


@dataclass(frozen=True)
class History:
    """Two runs of a pipeline of one project; the runs' events as stored."""

    project: UUID
    pipeline: UUID
    runs: tuple[UUID, UUID]
    links: dict[UUID, list[Link]]


async def make_history(services: Services) -> History:
    """A project, a pipeline and two runs with steps and logs, through the command bus."""
    driver = Driver(services)
    project = await driver.project()
    steps = (
        StepSpec(name="build", run="make"),
        StepSpec(name="test", run="pytest", needs=("build",)),
    )
    pipeline = await driver.pipeline(project, steps=steps)
    runs = []
    for _ in range(2):
        run = await driver.trigger(pipeline)
        await driver.step(run, "build", "running")
        await driver.logs(run, LogChunk(seq=1, text="compiling\n", step="build"))
        await driver.logs(run, LogChunk(seq=2, text="linking\n", step="build"))
        await driver.step(run, "build", "succeeded", exit_code=0)
        await driver.step(run, "test", "running")
        await driver.step(run, "test", "succeeded", exit_code=0)
        runs.append(run)
    links = {}
    for run in runs:
        stored = await services.store.read_stream(str(run))
        links[run] = [Link(e.position, e.version, e.type) for e in stored]
    return History(project, pipeline, (runs[0], runs[1]), links)


async def tamper(url: str, *statements: tuple[str, list[Any]]) -> None:
    """Run SQL as the superuser with triggers off for this session only: how an intruder with
    full access (or a careless operator) would rewrite history."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET session_replication_role = replica")
        async with conn.transaction():
            for sql, args in statements:
                await conn.execute(sql, *args)
    finally:
        await conn.close()


async def flowledger(
    *args: str, database_url: str, nats_url: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a process of its own, against the given servers (no .env files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {"FLOWLEDGER_DATABASE_URL": database_url, "FLOWLEDGER_NATS_URL": nats_url}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "adapters.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
