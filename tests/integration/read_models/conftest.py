"""Read models fed with real events: commands through the real bus, envelopes from the store.

The projector runtime is not involved: each test makes its own schema, runs a projection's
`ddl` there and applies batches of envelopes read back from the events table.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from adapters.bootstrap import open_services
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.store.reader import current_envelopes
from commands import pipelines, projects, run_reports, runs
from commands.bus import CommandResult
from commands.context import CommandContext, Principal
from domain.envelope import EventEnvelope
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from projections.catalog import ALL
from projections.projection import Projection
from tests.helpers import unique_id


@pytest.fixture(scope="session")
def rm_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=Path(tmp_path_factory.mktemp("read_models")),
        cipher_key=SecretBox.generate_key(),
    )


@pytest_asyncio.fixture(scope="session")
async def rm_services(rm_settings: Settings, database_url: str) -> AsyncIterator[Services]:
    async with open_services(rm_settings, database_url) as services:
        yield services


class Driver:
    """Sends commands as an admin, or as a named runner, at a clock it moves forward itself."""

    def __init__(self, services: Services, start: datetime | None = None) -> None:
        self.services = services
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        self.tag = unique_id("rm-")
        """Prefix of the correlation id of every command it sends: its events, and no others."""
        self._sent = itertools.count(1)

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    async def send(self, command: object, *, actor: str = "alice") -> CommandResult:
        """Dispatch `command` one second after the last, as `actor` (an admin of everything)."""
        principal = Principal(
            id=f"key:{actor}", name=actor, project_id=None, scopes=frozenset({"admin"})
        )
        context = CommandContext(
            principal=principal, at=self.tick(), correlation_id=f"{self.tag}:{next(self._sent)}"
        )
        return await self.services.bus.dispatch(command, context)

    async def project(self, name: str = "proj") -> UUID:
        result = await self.send(projects.CreateProject(name=name, slug=unique_id("p-")[:40]))
        return UUID(result.id)

    async def pipeline(
        self, project: UUID, *, name: str = "ci", steps: Sequence[StepSpec] | None = None, **extra
    ) -> UUID:
        definition = PipelineDefinition(
            name=name,
            steps=tuple(steps or (StepSpec(name="build", run="make"),)),
            **extra,
        )
        result = await self.send(
            pipelines.CreatePipeline(project_id=project, definition=definition)
        )
        return UUID(result.id)

    async def trigger(self, pipeline: UUID, *, actor: str = "alice", **fields: Any) -> UUID:
        result = await self.send(runs.TriggerRun(pipeline_id=pipeline, **fields), actor=actor)
        return UUID(result.id)

    async def step(self, run: UUID, step: str, status: str, **fields: Any) -> CommandResult:
        return await self.send(
            run_reports.ReportStepStatus(run_id=run, step=step, status=status, **fields),
            actor="runner-1",
        )

    async def logs(self, run: UUID, *chunks: run_reports.LogChunk) -> CommandResult:
        return await self.send(
            run_reports.AppendRunLogs(run_id=run, chunks=chunks), actor="runner-1"
        )


@pytest_asyncio.fixture
async def driver(rm_services: Services) -> Driver:
    return Driver(rm_services)


async def read_events(pool: asyncpg.Pool, tag: str, after: int = 0) -> list[EventEnvelope]:
    """The events of the commands a Driver tagged `tag` sent (other tests share the table),
    current (upcast), as the store's reader hands events to projections."""
    rows = await pool.fetch(
        "SELECT * FROM events WHERE position > $1 AND metadata->>'correlation_id' LIKE $2"
        " ORDER BY position",
        after,
        f"{tag}:%",
    )
    return await current_envelopes(pool, rows)


async def make_schema(pool: asyncpg.Pool, projection: Projection) -> str:
    """A fresh schema holding the projection's empty tables, as the runtime would make it."""
    schema = f"rm_test_{uuid4().hex[:12]}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(projection.ddl(schema))
    return schema


async def apply_in_batches(
    pool: asyncpg.Pool,
    projection: Projection,
    schema: str,
    events: Iterable[EventEnvelope],
    sizes: Iterable[int] = itertools.repeat(500),
) -> int:
    """Feed `events` as the runtime would: only the types it reads, one transaction a batch.

    Returns how many batches it applied.
    """
    wanted = [e for e in events if e.type in projection.event_types]
    start, batches = 0, 0
    sizes = iter(sizes)
    async with pool.acquire() as conn:
        while start < len(wanted):
            batch = wanted[start : start + next(sizes)]
            async with conn.transaction():
                await projection.apply(conn, schema, batch)
            start += len(batch)
            batches += 1
    return batches


class Projected:
    """Every projection of the catalog, in its own test schema, caught up on demand."""

    def __init__(self, pool: asyncpg.Pool, schemas: dict[str, str], tag: str) -> None:
        self.pool = pool
        self.tag = tag
        self.schemas = schemas
        self.position = 0

    def __getitem__(self, name: str) -> str:
        return self.schemas[name]

    async def catch_up(self) -> None:
        events = await read_events(self.pool, self.tag, self.position)
        for projection in ALL:
            await apply_in_batches(self.pool, projection, self.schemas[projection.name], events)
        if events:
            self.position = events[-1].position


@pytest_asyncio.fixture
async def projected(pool: asyncpg.Pool, driver: Driver) -> AsyncIterator[Projected]:
    schemas = {p.name: await make_schema(pool, p) for p in ALL}
    try:
        yield Projected(pool, schemas, driver.tag)
    finally:
        for schema in schemas.values():
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")
