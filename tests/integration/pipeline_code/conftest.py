"""The whole API served by uvicorn on a real port, with a projector: what the CLI and an
editor talk to (the MCP tests' server, the API tests' fixtures)."""

from __future__ import annotations

from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    admin,
    app,
    keys,
    services,
    settings,
)
from tests.integration.mcp.conftest import base_url  # noqa: F401  (a fixture)
