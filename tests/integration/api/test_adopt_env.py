"""`adopt-env`: a pipeline's plain env values moved into project secrets on real PostgreSQL;
the next version names them, and the events still holding the old values are reported."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from adapters.bootstrap import open_services
from adapters.bootstrap.adopt_env import adopt_env
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.secrets import vault
from commands.context import CommandContext, Principal
from commands.pipelines import CreatePipeline
from commands.projects import CreateProject
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from tests.helpers import unique_id

ADMIN = Principal(id="key:admin", name="alice", project_id=None, scopes=frozenset({"admin"}))
KEY_ID = "AKIA" + "Q7XW2M4PLK9RT3ZB"  # looks like an AWS key id: accepted only as not_secret


def context() -> CommandContext:
    return CommandContext(principal=ADMIN, at=datetime.now(UTC), correlation_id="c")


async def pipeline_with_plain_values(services: Services) -> tuple[UUID, UUID]:
    project = await services.bus.dispatch(
        CreateProject(name="P", slug=unique_id("a-")[:40]), context()
    )
    steps = (
        StepSpec(
            name="deploy",
            run='echo "$DB_PASSWORD"',
            env={"DB_PASSWORD": "hunter2", "KEY_ID": KEY_ID, "MODE": "prod"},
            not_secret=("KEY_ID",),
        ),
        StepSpec(name="notify", run="true", env={"DB_PASSWORD": "hunter2"}),
    )
    command = CreatePipeline(
        project_id=UUID(project.id), definition=PipelineDefinition(name="ci", steps=steps)
    )
    created = await services.bus.dispatch(command, context())
    return UUID(project.id), UUID(created.id)


async def test_adopting_moves_the_values_and_reports_the_events_that_keep_them(
    services: Services, pool: asyncpg.Pool
) -> None:
    project, pipeline_id = await pipeline_with_plain_values(services)

    done = await adopt_env(services, pipeline_id, ["DB_PASSWORD", "KEY_ID"], who="console:op")

    assert done.keys == ("DB_PASSWORD", "KEY_ID") and done.pipeline_version == 2
    pipeline = await services.repository.get(Pipeline, pipeline_id)
    deploy, notify = pipeline.definition().steps
    assert (deploy.env, deploy.secrets, deploy.not_secret) == (
        {"MODE": "prod"},
        ("DB_PASSWORD", "KEY_ID"),
        (),
    )
    assert (notify.env, notify.secrets) == ({}, ("DB_PASSWORD",))
    for name, value in (("DB_PASSWORD", "hunter2"), ("KEY_ID", KEY_ID)):
        revealed = await vault.reveal(pool, str(project), name)
        assert revealed is not None and (revealed.value, revealed.version) == (value, 1)
    [created] = await pool.fetch(
        "SELECT position FROM events WHERE stream_id = $1 AND version = 1", str(pipeline_id)
    )
    assert [(p.position, p.pipeline_version, p.step, p.key) for p in done.still_plain] == [
        (created["position"], 1, "deploy", "DB_PASSWORD"),
        (created["position"], 1, "deploy", "KEY_ID"),
        (created["position"], 1, "notify", "DB_PASSWORD"),
    ]
    # The new version's event holds names only.
    new_data = await pool.fetchval(
        "SELECT data::text FROM events WHERE stream_id = $1 AND type = 'PipelineVersionDefined'",
        str(pipeline_id),
    )
    assert "hunter2" not in new_data and KEY_ID not in new_data


async def test_nothing_credential_looking_means_nothing_adopted(services: Services) -> None:
    _, pipeline_id = await pipeline_with_plain_values(services)

    done = await adopt_env(services, pipeline_id, None, who="console:op")

    assert (done.keys, done.pipeline_version, done.still_plain) == ((), None, ())


async def test_the_cli_adopts_and_says_what_stays(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    key = SecretBox.generate_key()
    settings = Settings(database_url=fresh_database_url, cipher_key=key, data_dir=tmp_path)
    async with open_services(settings, fresh_database_url) as services:
        _, pipeline_id = await pipeline_with_plain_values(services)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")},
        "FLOWLEDGER_DATABASE_URL": fresh_database_url,
        "FLOWLEDGER_NATS_URL": nats_url,
        "FLOWLEDGER_CIPHER_KEY": key,
        "FLOWLEDGER_DATA_DIR": str(tmp_path),
    }

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "adapters.cli.main", "secrets", "adopt-env", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )

    done = cli(str(pipeline_id), "--key", "DB_PASSWORD")
    unknown = cli(str(pipeline_id), "--key", "NOT_THERE")
    bad_id = cli("not-an-id")

    assert done.returncode == 0, done.stderr
    assert "adopted DB_PASSWORD" in done.stdout and "version 2" in done.stdout
    assert done.stdout.count("still plain, kept forever") == 2
    assert "hunter2" not in done.stdout + done.stderr
    assert unknown.returncode == 1 and "NOT_THERE" in unknown.stderr
    assert bad_id.returncode == 2
