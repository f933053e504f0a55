"""The whole API served by uvicorn on a real port, with a projector, for MCP clients to call."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from litestar import Litestar

from tests.integration.api.conftest import (  # noqa: F401  (fixtures)
    admin,
    app,
    keys,
    services,
    settings,
)

START_WITHIN_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def base_url(app: Litestar, projector: None) -> Iterator[str]:  # noqa: F811
    """The API on its own thread and loop, so the test loop is free to be its client."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="mcp-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_WITHIN_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the API did not start (see the log above)")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
