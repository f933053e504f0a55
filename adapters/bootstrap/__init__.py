"""The composition root: the one part of adapters that sees every room.

It builds, from settings, what each process needs (its PostgreSQL pool, its NATS connection,
the event store and command bus on that pool, the projections, the HTTP apps) and every role;
the `flowledger` subcommands, `up` and the test fixtures all get them from here.
"""

from typing import Any

from adapters.bootstrap.resources import Resources, open_resources, open_services, pool_size
from adapters.bootstrap.roles import catalog

__all__ = [
    "Resources",
    "api_app",
    "catalog",
    "gateway_app",
    "open_resources",
    "open_services",
    "pool_size",
]


def __getattr__(name: str) -> Any:
    # The HTTP apps import litestar, the dashboard and the MCP server (seconds of start-up):
    # imported when first asked for, so the projector, relay, intake and CLI do not pay for them.
    if name in ("api_app", "gateway_app"):
        from adapters.bootstrap import apps

        return getattr(apps, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
