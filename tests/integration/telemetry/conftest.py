"""The API's fixtures (the real app, its own `services`, an admin key) for the telemetry tests."""

from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    admin,
    app,
    client,
    keys,
    services,
    settings,
)
