"""The real app, a dispatcher and a runners view of their own, and a JetStream jobs queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from adapters.dispatch.jobs import JobPublisher
from adapters.dispatch.process import DispatchProcess
from adapters.dispatch.role import republish_waiting
from adapters.http.reads import runners as runner_queries
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.streaming.jobs import Job, decode_job, ensure_jobs_stream, job_subject
from projections.reached import reached as views_reached
from projections.runners import RunnersProjection
from projections.runtime import Projector
from tests.databases import start_projection_at_head
from tests.helpers import unique_id
from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    Keys,
    admin,
    app,
    client,
    keys,
    services,
    settings,
)

WAIT_S = 20.0


class Fleet:
    """One test's dispatcher (stoppable, restartable), runners view, and its jobs label."""

    def __init__(
        self,
        services: Services,  # noqa: F811
        settings: Settings,  # noqa: F811
        database_url: str,
        pool: asyncpg.Pool,
        js: JetStreamContext,
    ) -> None:
        self.services = services
        self.settings = settings
        self.database_url = database_url
        self.pool = pool
        self.js = js
        self.label = unique_id("lbl-")[:30]
        self.publisher = JobPublisher(services.repository, js, settings.dispatch_stream)
        self.process = DispatchProcess(services.bus.dispatch, self.publisher)
        self.process.name = unique_id("dispatch_")[:40]
        self.view = RunnersProjection()
        self.view.name = unique_id("runners_")[:40]
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._view_stop = asyncio.Event()
        self._view_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """As the role starts: publish again what waits, then serve the feed."""
        await republish_waiting(self.pool, self.publisher, schema=f"rm_{self.process.name}")
        self._stop = asyncio.Event()
        projector = Projector(self.database_url, [self.process], retry_s=0.1, idle_s=0.2)
        self._task = asyncio.create_task(projector.run(self._stop))

    async def stop(self) -> None:
        assert self._stop is not None and self._task is not None
        self._stop.set()
        await asyncio.wait_for(self._task, 15)
        self._task = None

    async def caught_up(self, name: str | None = None) -> int:
        """Wait until the dispatcher (or `name`) has applied every event written so far."""
        name = name or self.process.name
        head = await self.pool.fetchval("SELECT coalesce(max(position), 0) FROM events")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while True:
            # Its reach, not its row: the row is moved over events it does not read only
            # now and then (projections.progress).
            reached = (await views_reached(self.pool, [name]))[name]
            if reached >= head:
                return head
            assert loop.time() < deadline, f"{name} stuck at {reached}, head {head}"
            await asyncio.sleep(0.05)

    async def settled(self) -> None:
        """Until the dispatcher has nothing left to do: its own commands write events too."""
        while True:
            head = await self.caught_up()
            await asyncio.sleep(0.05)
            if await self.pool.fetchval("SELECT max(position) FROM events") == head:
                return

    async def queued(self) -> int:
        """How many job messages wait on this test's label (work queue: acked ones are gone)."""
        subject = job_subject(self.label)
        info = await self.js.stream_info(self.settings.dispatch_stream, subjects_filter=subject)
        return (info.state.subjects or {}).get(subject, 0)

    async def take(self, count: int) -> list[Job]:
        """Pull and ack `count` jobs from the label's queue, as runners would, in order."""
        sub = await self.js.pull_subscribe(
            job_subject(self.label),
            durable=f"runners-{self.label}",
            stream=self.settings.dispatch_stream,
        )
        taken: list[Job] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while len(taken) < count:
            assert loop.time() < deadline, f"took {len(taken)} of {count} jobs"
            with contextlib.suppress(TimeoutError):
                for msg in await sub.fetch(count - len(taken), timeout=0.5):
                    taken.append(decode_job(msg.data))
                    await msg.ack_sync()
        await sub.unsubscribe()
        return taken

    async def close(self) -> None:
        if self._task is not None:
            await self.stop()
        self._view_stop.set()
        if self._view_task is not None:
            await asyncio.wait_for(self._view_task, 15)
        for name in (self.process.name, self.view.name):
            await self.pool.execute(f"DROP SCHEMA rm_{name} CASCADE")
            await self.pool.execute("DELETE FROM projection_checkpoints WHERE name = $1", name)


@pytest_asyncio.fixture
async def js(
    nats_url: str,
    settings: Settings,  # noqa: F811
) -> AsyncIterator[JetStreamContext]:
    nc = NatsClient()
    await nc.connect(nats_url)
    js = nc.jetstream()
    await ensure_jobs_stream(js, settings)
    try:
        yield js
    finally:
        await nc.close()


@pytest_asyncio.fixture
async def fleet(
    services: Services,  # noqa: F811
    settings: Settings,  # noqa: F811
    database_url: str,
    pool: asyncpg.Pool,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Fleet]:
    """Checkpoints at the head; the view served at once, the dispatcher once `start` is called."""
    fleet = Fleet(services, settings, database_url, pool, js)
    for projection in (fleet.process, fleet.view):
        await start_projection_at_head(pool, projection)
    monkeypatch.setattr(runner_queries, "SCHEMA", f"rm_{fleet.view.name}")
    monkeypatch.setattr(runner_queries, "VIEWS", (fleet.view.name,))
    fleet._view_task = asyncio.create_task(
        Projector(database_url, [fleet.view], retry_s=0.1, idle_s=0.2).run(fleet._view_stop)
    )
    try:
        yield fleet
    finally:
        await fleet.close()


async def make_pipeline(
    client: AsyncTestClient,  # noqa: F811
    admin: dict[str, str],  # noqa: F811
    steps: list[dict[str, Any]],
) -> tuple[str, str]:
    """A project and a pipeline with these steps; (project id, pipeline id)."""
    response = await client.post(
        "/api/v1/projects", json={"name": "fleet", "slug": unique_id("f-")[:40]}, headers=admin
    )
    assert response.status_code == 201, response.text
    project_id = response.json()["id"]
    body = {"project_id": project_id, "name": unique_id("p-")[:40], "steps": steps}
    response = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return project_id, response.json()["id"]
