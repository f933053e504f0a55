"""The gateway's share of the app's lifespan: one feed and one keeper per process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

from litestar import Litestar

from gateway.config import GatewayConfig
from gateway.feed import Feed
from gateway.keeper import Keeper


class Hub(NamedTuple):
    config: GatewayConfig
    feed: Feed
    keeper: Keeper


def gateway_config(state: Any) -> GatewayConfig:
    """The app's `gateway` state if set (tests, other prefixes), else the defaults."""
    found = state.get("gateway")
    return found if isinstance(found, GatewayConfig) else GatewayConfig()


@contextlib.asynccontextmanager
async def gateway_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Entered after the lifespan that opens the process's pool and NATS connection (it
    shares both).

    Nothing subscribes here: the feed starts with the first WebSocket, so an API process
    without WebSocket clients never subscribes to every event.
    """
    config = gateway_config(app.state)
    hub = Hub(config, Feed(app.state.nats, app.state.pool, config), Keeper(config))
    app.state.gateway_hub = hub
    # Called by the server before it stops: clients hear 1001 and where to resume, rather
    # than the server's generic close.
    app.state.before_stop = [*app.state.get("before_stop", []), _going_away(hub, config)]
    try:
        yield
    finally:
        await hub.keeper.close()
        await hub.feed.close()


def _going_away(hub: Hub, config: GatewayConfig) -> Callable[[], Awaitable[None]]:
    async def part() -> None:
        await hub.keeper.going_away(config.close_wait_s)

    return part
