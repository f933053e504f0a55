"""Schedules over HTTP (the api fixtures), the projector on a thread, schedulers on one clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest_asyncio
from litestar.testing import AsyncTestClient

from adapters.bootstrap import open_services
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.scheduler.role import ViewSchedules
from commands.scheduler import DueSchedule, Fired, Scheduler
from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    admin,
    app,
    client,
    keys,
    services,
    settings,
)
from tests.integration.api.test_pipelines_api import new_project

GRACE = timedelta(seconds=60)


class Clock:
    """One controlled clock for every scheduler of a test: it moves only when told."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class OnlyThese:
    """The real schedules view, narrowed to one test's pipelines (other tests' share the DB)."""

    def __init__(self, view: ViewSchedules, pipelines: set[UUID]) -> None:
        self.view, self.pipelines = view, pipelines

    async def schedules(self) -> Sequence[DueSchedule]:
        return [s for s in await self.view.schedules() if s.pipeline_id in self.pipelines]

    async def started_of(self, run_ids: Collection[UUID]) -> set[UUID]:
        return await self.view.started_of(run_ids)

    def claim(self, key: str, *, wait: bool) -> contextlib.AbstractAsyncContextManager[bool]:
        return self.view.claim(key, wait=wait)


class Schedulers:
    """Several schedulers, each on its own pool and bus, all reading one clock."""

    def __init__(self, each: list[Services], clock: Clock, *, batch_size: int = 250) -> None:
        self.each, self.clock, self.pipelines = each, clock, set[UUID]()
        self.schedulers = [
            Scheduler(
                s.bus.dispatch, OnlyThese(ViewSchedules(s.store.pool), self.pipelines), clock,
                grace=GRACE, batch_size=batch_size,
            )
            for s in each
        ]  # fmt: skip
        self.fired: list[Fired] = []
        self.skipped: list[Fired] = []

    async def tick(self) -> list[Fired]:
        """Every scheduler ticks at once, at the clock's now."""
        rounds = await asyncio.gather(*(s.tick() for s in self.schedulers))
        fired = [f for one in rounds for f in one.fired]
        self.fired += fired
        self.skipped += [f for one in rounds for f in one.skipped]
        return fired

    async def run(self, until: datetime, step: timedelta) -> None:
        while self.clock.now < until:
            self.clock.advance(step)
            await self.tick()

    async def until_seen(self, pipeline: UUID, *, shown: bool = True) -> None:
        """Wait (real time) for the projector to show (or no longer show) its schedules."""
        self.pipelines.add(pipeline)
        view = ViewSchedules(self.each[0].store.pool)
        for _ in range(200):
            if any(s.pipeline_id == pipeline for s in await view.schedules()) == shown:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the schedules view never caught up with pipeline {pipeline}")


@pytest_asyncio.fixture
async def three(
    settings: Settings,  # noqa: F811  (the fixture)
    database_url: str,
) -> AsyncIterator[list[Services]]:
    async with (
        open_services(settings, database_url, pool_size=3) as one,
        open_services(settings, database_url, pool_size=3) as two,
        open_services(settings, database_url, pool_size=3) as three,
    ):
        yield [one, two, three]


async def scheduled_pipeline(
    http: AsyncTestClient, headers: dict[str, str], *triggers: dict[str, Any]
) -> tuple[UUID, int]:
    """A new pipeline with these triggers, and the position of its creation."""
    project = await new_project(http, headers)
    body = {
        "project_id": project,
        "name": "nightly",
        "parameters": [{"name": "TARGET", "default": "linux"}],
        "steps": [{"name": "build", "run": "make build"}],
        "triggers": list(triggers),
    }
    response = await http.post("/api/v1/pipelines", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"]), response.json()["position"]


async def scheduled_runs(on: Services, pipeline: UUID) -> list[dict[str, Any]]:
    """Every RunRequested of the pipeline, from the events table itself."""
    rows = await on.store.pool.fetch(
        "SELECT stream_id, data::jsonb->'trigger' AS trigger, metadata::jsonb->>'actor' AS actor,"
        " data::jsonb->'parameters' AS parameters"
        " FROM events WHERE type = 'RunRequested' AND data::jsonb->>'pipeline_id' = $1"
        " ORDER BY position",
        str(pipeline),
    )
    return [
        {
            "run": r["stream_id"],
            "actor": r["actor"],
            "parameters": json.loads(r["parameters"]),
            **json.loads(r["trigger"]),
        }
        for r in rows
    ]


async def skip_records(on: Services, pipeline: UUID) -> list[dict[str, Any]]:
    """Every ScheduleSlotsSkipped of the pipeline, from the events table itself."""
    rows = await on.store.pool.fetch(
        "SELECT data::text AS data, metadata::jsonb->>'actor' AS actor FROM events"
        " WHERE type = 'ScheduleSlotsSkipped' AND data::jsonb->>'pipeline_id' = $1"
        " ORDER BY position",
        str(pipeline),
    )
    return [{"actor": r["actor"], **json.loads(r["data"])} for r in rows]
