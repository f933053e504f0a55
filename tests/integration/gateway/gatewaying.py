"""Test helpers: a gateway app on litestar's test client, WebSocket sessions, runs to watch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.testing.websocket_test_session import WebSocketTestSession

from adapters.bootstrap import api_app
from adapters.platform.settings import Settings
from adapters.store import EventStore
from adapters.streaming.relay import RelayConfig
from gateway import GatewayConfig
from tests.integration.relay.relaying import append

JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256"


@contextlib.asynccontextmanager
async def gateway(
    database_url: str, nats_url: str, relay: RelayConfig, **config: Any
) -> AsyncIterator[TestClient]:
    """The whole app (its /ws/ routes are the gateway) on its own loop, in the client's thread."""
    app = api_app(Settings(jwt_secret=JWT_SECRET), database_url=database_url, nats_url=nats_url)
    app.state.gateway = GatewayConfig(prefix=relay.prefix, **config)
    client = TestClient(app, timeout=10)
    await asyncio.to_thread(client.__enter__)
    try:
        yield client
    finally:
        await asyncio.to_thread(client.__exit__, None, None, None)


async def connect(client: TestClient, path: str, **params: Any) -> WebSocketTestSession:
    """An accepted WebSocket session (a refused one is closed right after accepting)."""
    subprotocols = params.pop("subprotocols", None)
    session = client.websocket_connect(path, params=params, subprotocols=subprotocols)
    return await asyncio.to_thread(session.__enter__)


async def refusal(client: TestClient, path: str, **params: Any) -> WebSocketDisconnect:
    """The close that refuses a connection: it comes before any message."""
    session = await connect(client, path, **params)
    try:
        message = await asyncio.to_thread(session.receive, timeout=15)
    except WebSocketDisconnect as refused:
        return refused
    session.close()
    raise AssertionError(f"{path} was accepted and sent {message}")


async def receive(session: WebSocketTestSession, count: int) -> list[dict[str, Any]]:
    """The next `count` events (heartbeats skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = json.loads(await asyncio.to_thread(session.receive_text, timeout=15))
        if message.get("type") != "heartbeat":
            found.append(message)
    return found


async def close_code(session: WebSocketTestSession) -> WebSocketDisconnect:
    """Read until the server closes the socket; its close code and reason."""
    while True:
        try:
            await asyncio.to_thread(session.receive, timeout=15)
        except WebSocketDisconnect as closed:
            return closed


async def leave(session: WebSocketTestSession) -> None:
    await asyncio.to_thread(session.__exit__, None, None, None)


class Run(msgspec.Struct):
    project: str
    pipeline: str
    run: str
    last: int


async def a_run(store: EventStore, project: str | None = None) -> Run:
    """A project (new unless given), a pipeline, and a run with its RunRequested."""
    if project is None:
        project = str(uuid.uuid4())
        await append(store, project, "project", ("ProjectCreated", {"name": "p"}))
    pipeline, run = str(uuid.uuid4()), str(uuid.uuid4())
    await append(store, pipeline, "pipeline", ("PipelineCreated", {"project_id": project}))
    last = await append(
        store, run, "run", ("RunRequested", {"project_id": project, "pipeline_id": pipeline})
    )
    return Run(project, pipeline, run, last)


async def step(store: EventStore, run: str, index: int) -> int:
    return await append(store, run, "run", ("RunLogAppended", {"line": f"step {index}"}))
