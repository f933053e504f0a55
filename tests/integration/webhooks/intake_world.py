"""A world for the intake tests: projects, pipelines and sources made by commands, deliveries
recorded through the WebhookDelivery aggregate, and the pipelines view in a schema of its own."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest_asyncio

from adapters.platform.services import Services
from adapters.store.reader import current_envelopes, read_stream_current
from adapters.webhooks.intake import IntakeProcess
from commands import pipelines, projects, webhook_sources
from commands.bus import CommandResult
from commands.context import CommandContext, Principal
from commands.webhook_intake import Outcome
from domain.envelope import EventEnvelope, EventMetadata
from domain.pipeline_definition import PipelineDefinition
from domain.run import Run
from domain.step_spec import StepSpec
from domain.trigger_spec import TriggerSpec
from domain.webhook_delivery import WebhookDelivery, delivery_stream_id
from projections.pipelines import PipelinesProjection
from tests.helpers import WEBHOOK_FIXTURES, unique_id

FIXTURES = WEBHOOK_FIXTURES
GITLAB_EVENTS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
    "job": "Job Hook",
}


def payload(name: str, **changes: Any) -> str:
    """A fixture's body, with top-level fields changed (`build__phase` reaches one level in)."""
    if not changes:
        return (FIXTURES / name).read_text()
    body = json.loads((FIXTURES / name).read_text())
    for key, value in changes.items():
        *path, last = key.split("__")
        target = body
        for step in path:
            target = target[step]
        target[last] = value
    return json.dumps(body)


def event_of(name: str) -> str:
    kind, stem = name.split("/")[0], name.split("/")[1].split(".")[0]
    return {"github": stem, "gitlab": GITLAB_EVENTS.get(stem, ""), "jenkins": "notification"}[kind]


@pytest_asyncio.fixture(name="world")
async def world_fixture(services: Services, pool: asyncpg.Pool) -> AsyncIterator[World]:
    """A world with an empty pipelines view of its own, dropped afterwards."""
    schema = f"rm_test_{uuid4().hex[:12]}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(PipelinesProjection().ddl(schema))
    try:
        yield World(services, pool, schema)
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")


class World:
    """Everything a test sends is tagged, so only its own events reach its views."""

    def __init__(self, services: Services, pool: asyncpg.Pool, schema: str) -> None:
        self.services = services
        self.pool = pool
        self.schema = schema
        self.tag = unique_id("intake-")
        self.now = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
        self._sent = itertools.count(1)
        self._applied = 0
        self.process = IntakeProcess(
            services,
            pipelines_schema=schema,
            pipelines_view=None,
            clock=self.tick,
            builds_schema=None,
        )

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def correlation(self) -> str:
        return f"{self.tag}:{next(self._sent)}"

    async def send(self, command: object) -> CommandResult:
        admin = Principal(
            id="key:admin", name="alice", project_id=None, scopes=frozenset({"admin"})
        )
        context = CommandContext(principal=admin, at=self.tick(), correlation_id=self.correlation())
        return await self.services.bus.dispatch(command, context)

    async def project(self) -> UUID:
        slug = unique_id("in-")[:40]
        return UUID((await self.send(projects.CreateProject(name="p", slug=slug))).id)

    async def pipeline(self, project: UUID, *triggers: TriggerSpec, name: str = "ci") -> UUID:
        definition = PipelineDefinition(
            name=name, steps=(StepSpec(name="build", run="make"),), triggers=triggers
        )
        result = await self.send(
            pipelines.CreatePipeline(project_id=project, definition=definition)
        )
        return UUID(result.id)

    async def source(self, project: UUID, kind: str) -> UUID:
        command = webhook_sources.RegisterWebhookSource(
            project_id=project, kind=kind, name=unique_id(f"{kind}-")[:40], secret="s" * 32
        )
        return UUID((await self.send(command)).id)

    async def deliver(
        self, source: UUID, project: UUID, name: str, body: str | None = None, **changes: Any
    ) -> EventEnvelope:
        """Record the fixture `name` (or `body`) as received by `source`; its envelope."""
        kind = name.split("/")[0]
        delivery_id = unique_id("d-")
        stream = delivery_stream_id(source, delivery_id)
        delivery = WebhookDelivery.receive(
            id=stream,
            source_id=source,
            project_id=project,
            source_kind=kind,
            delivery_id=delivery_id,
            event=event_of(name),
            headers={"content-type": "application/json"},
            content_type="application/json",
            payload=body if body is not None else payload(name, **changes),
            at=self.tick(),
        )
        metadata = EventMetadata(correlation_id=self.correlation(), actor=kind)
        await self.services.repository.save(delivery, metadata=metadata)
        # As the intake reads it (the feed): current, its personal body opened.
        return (await read_stream_current(self.services.store.pool, str(stream)))[0]

    async def handle(self, envelope: EventEnvelope) -> Outcome:
        """Bring the pipelines view up to this moment, then let the intake process it."""
        await self.catch_up()
        return await self.process.process(envelope)

    async def catch_up(self) -> None:
        rows = await self.pool.fetch(
            "SELECT * FROM events WHERE position > $1 "
            "AND metadata->>'correlation_id' LIKE $2 ORDER BY position",
            self._applied,
            f"{self.tag}:%",
        )
        if not rows:
            return
        envelopes = await current_envelopes(self.pool, rows)
        async with self.pool.acquire() as conn, conn.transaction():
            await PipelinesProjection().apply(conn, self.schema, envelopes)
        self._applied = envelopes[-1].position

    async def run(self, run_id: UUID) -> Run:
        return await self.services.repository.get(Run, run_id)

    async def actor(self, run_id: UUID) -> str:
        """Who triggered the run, as readers see it (the aggregate keeps a person's name sealed)."""
        requested = (await read_stream_current(self.services.store.pool, str(run_id)))[0]
        return requested.data["trigger"]["actor"]

    async def delivery(self, envelope: EventEnvelope) -> WebhookDelivery:
        return await self.services.repository.get(WebhookDelivery, UUID(envelope.stream_id))

    async def tagged_events(self) -> list[str]:
        """`type:stream` of every event this world's commands and deliveries caused."""
        rows = await self.pool.fetch(
            "SELECT type, stream_id FROM events WHERE metadata->>'correlation_id' LIKE $1 "
            "ORDER BY position",
            f"{self.tag}:%",
        )
        return [f"{row['type']}:{row['stream_id']}" for row in rows]
