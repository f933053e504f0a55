"""The composition root of the HTTP API: builds the litestar app and owns its async resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.plugins.problem_details import ProblemDetailsPlugin
from nats.aio.client import Client as NatsClient

from adapters.http import audit, reads, writes
from adapters.http.health import HealthController
from adapters.http.problems import problem_details_config
from adapters.http.security import (
    FlowledgerAuthentication,
    authenticate_token,
    cors_config,
    security_headers,
    security_middleware,
)
from adapters.platform.services import open_services
from adapters.platform.settings import Settings
from adapters.telemetry.http import MetricsController, echo_request_id, request_telemetry
from adapters.webhooks import controller as webhooks
from gateway import gateway_lifespan, websocket_routes

log = logging.getLogger(__name__)

NATS_CONNECT_TIMEOUT_S = 2
NATS_START_WAIT_S = 3.0
PG_CONNECT_TIMEOUT_S = 5.0


class NatsLink:
    """A NATS connection that keeps trying in the background instead of blocking start-up."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = NatsClient()
        self.last_error: str | None = None
        self._connecting: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self.client.is_connected

    async def start(self, wait_s: float = NATS_START_WAIT_S) -> None:
        """Begin connecting; return once connected or after `wait_s`, whichever comes first."""
        self._connecting = asyncio.create_task(self._connect(), name="nats-connect")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._connecting), wait_s)

    async def close(self) -> None:
        """Drain if connected (flushes pending publishes), otherwise stop trying and close."""
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self.client.is_connected:
            try:
                await self.client.drain()
                return
            except Exception as exc:  # a failed drain must not keep the process from exiting
                log.warning("NATS drain failed: %s", exc)
        if not self.client.is_closed:
            await self.client.close()

    async def _connect(self) -> None:
        # max_reconnect_attempts=-1 makes nats-py retry forever, including the first
        # connect, and reconnect by itself after any later outage.
        await self.client.connect(
            [server.strip() for server in self.url.split(",")],
            name="flowledger",
            connect_timeout=NATS_CONNECT_TIMEOUT_S,
            reconnect_time_wait=1,
            max_reconnect_attempts=-1,
            error_cb=self._on_error,
            reconnected_cb=self._on_reconnected,
        )
        self.last_error = None

    async def _on_error(self, exc: Exception) -> None:
        message = str(exc) or type(exc).__name__
        if message != self.last_error:
            log.warning("NATS %s: %s", self.url, message)
        self.last_error = message

    async def _on_reconnected(self) -> None:
        self.last_error = None


def create_app(
    settings: Settings,
    *,
    database_url: str,
    nats_url: str,
    migrations_dir: Path | None = None,
) -> Litestar:
    """Build the app; the pool and NATS connection open in its lifespan, not here."""
    # Imported here: the MCP tools use this package's commanding and queries, and importing
    # them first would otherwise come back round to this module half-initialised.
    from adapters.mcp.endpoint import McpEndpoint

    mcp = McpEndpoint(max_body_bytes=settings.max_body_bytes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            # min_size=0: the process starts even while PostgreSQL is down; /ready says so.
            pool = await asyncpg.create_pool(
                database_url, min_size=0, max_size=10, timeout=PG_CONNECT_TIMEOUT_S
            )
            stack.push_async_callback(pool.close)
            link = NatsLink(nats_url)
            stack.push_async_callback(link.close)
            await link.start()
            app.state.pool = pool
            app.state.nats = link
            app.state.services = await stack.enter_async_context(
                open_services(settings, database_url)
            )
            await stack.enter_async_context(mcp.running())
            yield

    return Litestar(
        route_handlers=[
            HealthController,
            *([MetricsController] if settings.metrics_enabled else []),
            *writes.ROUTES,
            *webhooks.ROUTES,
            *reads.ROUTES,
            *audit.ROUTES,
            *websocket_routes(authenticate_token),
            mcp.route(),
        ],
        # The gateway's lifespan second: it uses the pool and NATS link opened by the first.
        lifespan=[lifespan, gateway_lifespan],
        middleware=[
            request_telemetry(
                metrics=settings.metrics_enabled, tracing=settings.traces_exporter != "none"
            ),
            *security_middleware(settings),
            DefineMiddleware(FlowledgerAuthentication),
        ],
        cors_config=cors_config(settings),
        before_send=[security_headers, echo_request_id],
        request_max_body_size=settings.max_body_bytes,
        plugins=[ProblemDetailsPlugin(problem_details_config())],
        openapi_config=OpenAPIConfig(
            title="flowledger",
            version=version("flowledger"),
            path="/docs",
            render_plugins=[ScalarRenderPlugin()],
        ),
        state=State({"settings": settings, "migrations_dir": migrations_dir}),
        # The process's logging is configured once, by adapters.telemetry: not by litestar.
        logging_config=None,
    )
