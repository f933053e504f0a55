"""The API's fixtures (the real app, its own `services`, keys) and the session's projector."""

from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    admin,
    app,
    client,
    keys,
    services,
    settings,
)
