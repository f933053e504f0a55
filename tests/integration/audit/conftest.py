"""The API's fixtures (the real app, its own `services`, keys) for the audit tests."""

from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    admin,
    app,
    client,
    keys,
    services,
    settings,
)
