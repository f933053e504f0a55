"""The PostgreSQL store's own contract: the same `store` fixture as the parent folder, on the
PostgreSQL backends only (the in-memory store has no other processes, connections or URL)."""

from __future__ import annotations

import pytest

from tests.integration.event_store.conftest import BACKENDS


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(backend_database: str | None) -> str:
    """The PostgreSQL database the store under test writes to (for a second store, a process)."""
    assert backend_database is not None, "postgres/ runs on PostgreSQL backends only"
    return backend_database
