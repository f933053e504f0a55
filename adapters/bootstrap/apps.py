"""The HTTP apps: the API (REST, webhooks, MCP, WebSockets) and the WebSocket-only gateway."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar

from adapters import dashboard
from adapters.bootstrap.heap import startup_heap_frozen
from adapters.bootstrap.resources import ProcessRole, Resources, open_resources, shared_or_own
from adapters.http import audit, reads, writes
from adapters.http.app import Lifespan, create_app
from adapters.http.security import authenticate_token
from adapters.mcp.endpoint import McpEndpoint
from adapters.platform.settings import Settings
from adapters.webhooks import controller as webhooks
from gateway import gateway_lifespan, websocket_routes
from gateway.hub import gateway_config


def api_app(
    settings: Settings,
    *,
    database_url: str,
    nats_url: str,
    migrations_dir: Path | None = None,
    shared: Resources | None = None,
) -> Litestar:
    """The API process's app; it opens its resources in its lifespan unless `shared`."""
    mcp = McpEndpoint(max_body_bytes=settings.max_body_bytes)
    # The dashboard's pages open the gateway with tickets that stand for their session.
    tickets = dashboard.Tickets()

    def mcp_running(_app: Litestar) -> contextlib.AbstractAsyncContextManager[None]:
        return mcp.running()

    return create_app(
        settings,
        routes=[
            *writes.ROUTES,
            *webhooks.ROUTES,
            *reads.ROUTES,
            *audit.ROUTES,
            *websocket_routes(tickets.authenticator(authenticate_token)),
            mcp.route(),
            *dashboard.routes(),
        ],
        # The gateway's last: its feed shares the pool and NATS connection of the first.
        lifespan=[
            _resources("api", settings, database_url, nats_url, shared),
            mcp_running,
            gateway_lifespan,
            startup_heap_frozen,
        ],
        state={"migrations_dir": migrations_dir, "dashboard_tickets": tickets},
    )


def gateway_app(
    settings: Settings, *, database_url: str, nats_url: str, shared: Resources | None = None
) -> Litestar:
    """`flowledger gateway`: the WebSocket routes, /health and /ready, nothing else."""
    return create_app(
        settings,
        routes=websocket_routes(authenticate_token),
        lifespan=[
            _resources("gateway", settings, database_url, nats_url, shared),
            gateway_lifespan,
        ],
    )


def _resources(
    role: ProcessRole,
    settings: Settings,
    database_url: str,
    nats_url: str,
    shared: Resources | None,
) -> Lifespan:
    """Puts the process's pool, NATS connection and services in the app's state."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        def open_own() -> contextlib.AbstractAsyncContextManager[Resources]:
            # The gateway's reconnect pace is the connection's: it is the one that waits.
            wait_s = gateway_config(app.state).reconnect_wait_s
            return open_resources(
                settings, role, database_url, nats_url, nats_reconnect_wait_s=wait_s
            )

        async with shared_or_own(shared, open_own) as resources:
            app.state.pool = resources.pool
            app.state.nats = resources.nats
            app.state.services = resources.services
            yield

    return lifespan
