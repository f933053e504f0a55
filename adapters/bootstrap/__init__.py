"""The composition root: the one part of adapters that sees every room.

It builds, from settings, what each process needs (its PostgreSQL pool, its NATS connection,
the event store and command bus on that pool, the projections, the HTTP apps) and every role;
the `flowledger` subcommands, `up` and the test fixtures all get them from here.
"""

from adapters.bootstrap.apps import api_app, gateway_app
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
