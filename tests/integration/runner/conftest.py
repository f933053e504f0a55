"""One running flowledger (API over HTTP, projector, relay, dispatcher) for the runner tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings
from tests.helpers import unique_id
from tests.integration.runner.stack import Stack, running_stack


@pytest.fixture(scope="session")
def runner_settings(
    database_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        database_url=database_url,
        nats_url=nats_url,
        data_dir=Path(tmp_path_factory.mktemp("runner-stack")),
        cipher_key=SecretBox.generate_key(),
        rate_limit_per_key=0,
        rate_limit_per_address=0,
        log_format="text",
        metrics_enabled=False,
        runner_heartbeat_interval_s=1,
        runner_lost_after_s=3,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(runner_settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Stack]:
    # Per module, not per session: its projector serves every view on the session's loop,
    # which the API tests' client blocks while a request waits for a view to catch up. Once
    # this module is done, the views go back to whoever else serves them.
    async with running_stack(runner_settings, pool) as stack:
        yield stack


@pytest.fixture
def label() -> str:
    """This test's runner label: its jobs go to its runners only."""
    return unique_id("t-")[:24]


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A folder the test's steps write their traces to (their own folders are fresh)."""
    return tmp_path
