"""What the composition root gives each process: one pool, one NATS connection, its routes."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app, gateway_app, open_resources, pool_size
from adapters.platform.settings import Settings


def paths(app: Litestar) -> set[str]:
    return {route.path for route in app.routes}


async def test_the_api_shares_one_pool_and_one_nats_connection(
    database_url: str, nats_url: str
) -> None:
    app = api_app(Settings(api_pool_size=7), database_url=database_url, nats_url=nats_url)
    async with AsyncTestClient(app=app):
        state = app.state
        assert state.services.store.pool is state.pool
        assert state.gateway_hub.feed.pool is state.pool
        assert state.gateway_hub.feed.nats is state.nats
        assert state.pool.get_max_size() == 7
        assert state.nats.connected
    assert state.nats.client.is_closed


async def test_the_gateway_serves_websockets_and_health_only(
    database_url: str, nats_url: str
) -> None:
    app = gateway_app(Settings(), database_url=database_url, nats_url=nats_url)
    served = paths(app)

    assert {"/health", "/ready", "/ws/system", "/ws/runs/{target:str}"} <= served
    assert not any(path.startswith(("/api/", "/webhooks", "/mcp")) for path in served)
    async with AsyncTestClient(app=app) as http:
        assert (await http.get("/health")).status_code == 200
        # Served (its verdict depends on the views of the shared test database).
        assert (await http.get("/ready")).status_code in (200, 503)
        assert app.state.gateway_hub.feed.pool is app.state.pool


async def test_a_role_without_nats_opens_none(database_url: str) -> None:
    settings = Settings(intake_pool_size=3)
    async with open_resources(settings, "intake", database_url) as resources:
        assert resources.nats is None
        assert resources.services.store.pool is resources.pool
        assert resources.pool.get_max_size() == 3


def test_up_pools_what_its_roles_would_each_have() -> None:
    settings = Settings(api_pool_size=20, intake_pool_size=4, dispatcher_pool_size=5)
    settings = Settings(
        api_pool_size=20, intake_pool_size=4, dispatcher_pool_size=5, scheduler_pool_size=3
    )
    assert pool_size(settings, "up") == 32 + settings.deliverer_pool_size
    assert pool_size(settings, "gateway") == settings.gateway_pool_size
