"""Real sockets for gateway tests: the app under uvicorn, a NATS link that can be cut, clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from litestar import Litestar
from websockets.asyncio.client import ClientConnection

from adapters.bootstrap import gateway_app as gateway_only_app
from adapters.platform.embedded._process import free_port
from adapters.platform.settings import Settings
from gateway import GatewayConfig
from tests.integration.gateway.gatewaying import JWT_SECRET


def gateway_app(database_url: str, nats_url: str, **config: Any) -> Litestar:
    """What `flowledger gateway` serves: the WebSocket routes, /health and /ready."""
    settings = Settings(jwt_secret=JWT_SECRET)
    app = gateway_only_app(settings, database_url=database_url, nats_url=nats_url)
    app.state.gateway = GatewayConfig(**config)
    return app


@contextlib.asynccontextmanager
async def served(app: Litestar, **options: Any) -> AsyncIterator[str]:
    """The app under uvicorn on this loop and a free port; yields its `ws://host:port` base."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", log_config=None, **options)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("uvicorn stopped while starting")
                await asyncio.sleep(0.02)
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
        sock.close()


class Partition:
    """A TCP hop between the gateway and NATS that the test can cut and heal."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("nats://").rpartition(":")
        self.upstream = (host, int(port))
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.open = True
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Partition:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every connection through the hop, and every new one until `heal`."""
        self.open = False
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    def heal(self) -> None:
        self.open = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._pipes.discard(writer)
            writer.transport.abort()


async def events_from(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` events (heartbeats skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if message.get("type") != "heartbeat":
            found.append(message)
    return found


async def until(condition: Callable[[], bool], within_s: float = 20) -> None:
    """Wait (bounded) for a condition on gateway state that has no event to wait on."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
