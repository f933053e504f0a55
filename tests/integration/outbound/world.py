"""The outbound tests' world: real PostgreSQL, NATS and the relay, commands through the bus,
a deliverer started and stopped at will."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest_asyncio

from adapters.bootstrap import open_services
from adapters.outbound.deliverer import Deliverer, StatusHosts
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.streaming.nats import NatsConnection
from adapters.streaming.relay import Relay
from commands.context import CommandContext, Principal
from commands.projects import CreateProject, RenameProject
from commands.subscriptions import (
    CreateSubscription,
)
from tests.integration.relay.relaying import running, start_at_head, unique_config

T = TypeVar("T")
ADMIN = Principal(id="test", name="tester", project_id=None, scopes=frozenset({"admin"}))


def context() -> CommandContext:
    return CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id="test")


@dataclass
class World:
    settings: Settings
    services: Services
    nats_url: str
    prefix: str

    async def do(self, command: object) -> dict:
        result = await self.services.bus.dispatch(command, context())
        return {f: getattr(result, f) for f in result.__struct_fields__}

    async def project(self) -> str:
        slug = f"o-{uuid.uuid4().hex[:12]}"
        return (await self.do(CreateProject(name="outbound", slug=slug)))["id"]

    async def subscribe(self, project_id: str, url: str, types: tuple[str, ...] = ("*",)) -> dict:
        return await self.do(
            CreateSubscription(project_id=uuid.UUID(project_id), url=url, event_types=types)
        )

    async def renames(self, project_id: str, count: int, start: int = 0) -> None:
        for n in range(start, start + count):
            await self.do(RenameProject(project_id=uuid.UUID(project_id), name=f"name {n}"))

    @contextlib.asynccontextmanager
    async def deliverer(
        self,
        statuses: StatusHosts | None = None,
        dispatch: Callable[[object, CommandContext], Awaitable[object]] | None = None,
    ) -> AsyncIterator[Deliverer]:
        """A deliverer; `dispatch`, if given, stands between it and the bus (to inject faults)."""
        link = NatsConnection(self.nats_url, name="test-deliverer")
        await link.start()
        deliverer = Deliverer(
            self.settings,
            self.services.store.pool,
            link,
            self.services.repository,
            self.services.box,
            dispatch or self.services.bus.dispatch,
            prefix=self.prefix,
            store=self.services.store,
            statuses=statuses,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(deliverer.run(stop))
        try:
            await asyncio.wait_for(deliverer.active.wait(), 20)
            yield deliverer
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
            await link.close(drain=False)


@pytest_asyncio.fixture
async def world(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with _opened(database_url, nats_url, tmp_path) as (found, relay), running(relay):
        yield found


@pytest_asyncio.fixture
async def world_and_relay(
    database_url: str, nats_url: str, tmp_path: Path
) -> AsyncIterator[tuple[World, Relay]]:
    """A world whose relay the test starts itself (`running(relay)`): nothing is published
    until then, as when the relay is behind."""
    async with _opened(database_url, nats_url, tmp_path) as found:
        yield found


@contextlib.asynccontextmanager
async def _opened(
    database_url: str, nats_url: str, tmp_path: Path
) -> AsyncIterator[tuple[World, Relay]]:
    config = unique_config()
    settings = Settings(
        database_url=database_url,
        nats_url=nats_url,
        data_dir=tmp_path,
        cipher_key=SecretBox.generate_key(),
        relay_stream=config.stream,
        outbound_allow=("127.0.0.1",),
        outbound_retry_for_s=1,
        outbound_backoff_base_ms=20,
        outbound_backoff_cap_s=1,
        outbound_disable_after_parked=2,
    )
    await start_at_head(database_url, config)
    async with open_services(settings, database_url) as services:
        relay = Relay(database_url, nats_url, config)
        yield World(settings, services, nats_url, config.prefix), relay


async def until(check: Callable[[], bool], timeout: float = 30) -> None:
    async def probe() -> bool:
        return check()

    await eventually(probe, timeout)


async def eventually(probe: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
    """`probe`'s first truthy answer (polled), or TimeoutError."""
    async with asyncio.timeout(timeout):
        while True:
            if found := await probe():
                return found
            await asyncio.sleep(0.05)


def positions(received: list) -> list[int]:
    return [json.loads(r.body)["data"]["position"] for r in received]
