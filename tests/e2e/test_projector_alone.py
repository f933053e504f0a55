"""`flowledger projector` as a process of its own opens personal values into its views, as the
projector inside `up` does: a view never keeps the sealed text."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from adapters.bootstrap import open_services
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings
from adapters.store.personal import cipher
from commands.context import CommandContext, Principal
from commands.pipelines import CreatePipeline
from commands.projects import CreateProject
from commands.runs import TriggerRun
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from tests.e2e.test_role_operations import STARTED_WITHIN_S, role_env, start, terminate
from tests.e2e.test_up import free_port
from tests.helpers import unique_id

ADMIN = Principal(id="key:admin", name="admin", project_id=None, scopes=frozenset({"admin"}))
ALICE = Principal(
    id="jwt:alice", name="Alice", project_id=None, scopes=frozenset({"admin"}), person=True
)


async def a_run_triggered_by_a_person(settings: Settings, database_url: str) -> UUID:
    async with open_services(settings, database_url) as services:

        async def send(command: object, principal: Principal) -> str:
            context = CommandContext(
                principal=principal, at=datetime.now(UTC), correlation_id=unique_id("alone-")
            )
            return (await services.bus.dispatch(command, context)).id

        project = await send(CreateProject(name="Shop", slug=unique_id("p-")[:40]), ADMIN)
        definition = PipelineDefinition(name="ci", steps=(StepSpec(name="build", run="make"),))
        created = CreatePipeline(project_id=UUID(project), definition=definition)
        pipeline = await send(created, ADMIN)
        return UUID(await send(TriggerRun(pipeline_id=UUID(pipeline)), ALICE))


async def actors(database_url: str, run: UUID) -> tuple[str, str | None]:
    """The run's actor as its RunRequested stores it, and as the runs view holds it (None
    until the view has the run)."""
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval(
            "SELECT data->'trigger'->>'actor' FROM events"
            " WHERE stream_id = $1 AND type = 'RunRequested'",
            str(run),
        )
        if await conn.fetchval("SELECT to_regclass('rm_runs.runs')") is None:
            return stored, None  # the projector has not made its views yet
        return stored, await conn.fetchval("SELECT actor FROM rm_runs.runs WHERE id = $1", run)
    finally:
        await conn.close()


def test_a_projector_alone_keeps_a_persons_name_opened_not_sealed(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    key = SecretBox.generate_key()
    settings = Settings(database_url=fresh_database_url, data_dir=tmp_path / "api", cipher_key=key)
    run = asyncio.run(a_run_triggered_by_a_person(settings, fresh_database_url))
    # Its own data folder: only the instance key in the environment is shared, as in compose.
    env = role_env(
        fresh_database_url,
        nats_url,
        tmp_path,
        FLOWLEDGER_CIPHER_KEY=key,
        FLOWLEDGER_PROBE_PORT=str(free_port()),
    )
    log = tmp_path / "projector.log"
    proc = start("projector", env, log)
    try:
        deadline = time.monotonic() + STARTED_WITHIN_S
        stored, viewed = asyncio.run(actors(fresh_database_url, run))
        while viewed is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            stored, viewed = asyncio.run(actors(fresh_database_url, run))
    finally:
        if proc.poll() is None:
            terminate(proc, log)

    assert cipher.is_sealed(stored), "the event keeps the person's name sealed"
    assert viewed == "Alice", log.read_text()
