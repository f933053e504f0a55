"""`flowledger pipelines apply FILE.yaml` as a user runs it: a real subprocess against the API
on a real port; what it wrote read back from the event store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from adapters.platform.services import Services
from tests.helpers import unique_id

FILE = """\
# yaml-language-server: $schema=http://localhost:8000/api/v1/schemas/pipeline.json
project_id: {project}
name: {name}
description: built from a file
steps:
  - name: build
    run: make build
  - name: test
    run: make test
    needs: [build]
triggers:
  - source: schedule
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    catch_up: last
"""


def apply(base_url: str, token: str, file: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", "pipelines", "apply", str(file),
         "--api", base_url, "--token", token, *extra],
        capture_output=True, text=True, timeout=60, env=env, cwd=file.parent, check=False,
    )  # fmt: skip


@pytest.fixture
def project(base_url: str, admin: dict[str, str]) -> str:
    slug = unique_id("cli-")[:40]
    response = httpx.post(
        f"{base_url}/api/v1/projects", json={"name": "CLI", "slug": slug}, headers=admin
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def pipeline_events(services: Services, project: str) -> list[tuple[str, str]]:
    rows = await services.store.pool.fetch(
        "SELECT stream_id, type FROM events WHERE stream_type = 'pipeline'"
        " AND (data::jsonb->>'project_id' = $1 OR stream_id IN (SELECT stream_id FROM events"
        " WHERE type = 'PipelineCreated' AND data::jsonb->>'project_id' = $1))"
        " ORDER BY position",
        project,
    )
    return [(r["stream_id"], r["type"]) for r in rows]


async def test_apply_creates_then_writes_nothing_then_updates_with_a_diff(
    base_url: str, admin: dict[str, str], services: Services, project: str, tmp_path: Path
) -> None:
    token = admin["X-API-Key"]
    file = tmp_path / "pipeline.yaml"
    file.write_text(FILE.format(project=project, name="nightly build"))

    created = apply(base_url, token, file)
    assert created.returncode == 0, created.stderr
    assert "created pipeline" in created.stderr
    assert "+name: nightly build" in created.stdout and "+  cron: 0 3 * * *" in created.stdout
    after_create = await pipeline_events(services, project)
    assert [t for _, t in after_create] == ["PipelineCreated"]

    again = apply(base_url, token, file)
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stderr and again.stdout == ""
    assert await pipeline_events(services, project) == after_create, "the same file wrote nothing"

    file.write_text(file.read_text().replace("make test", "make test-all"))
    updated = apply(base_url, token, file)
    assert updated.returncode == 0, updated.stderr
    assert "-  run: make test\n" in updated.stdout and "+  run: make test-all\n" in updated.stdout
    assert "(version 1)" in updated.stdout and "updated pipeline" in updated.stderr
    events = await pipeline_events(services, project)
    assert [t for _, t in events] == ["PipelineCreated", "PipelineVersionDefined"]
    assert len({stream for stream, _ in events}) == 1

    once_more = apply(base_url, token, file)
    assert "unchanged" in once_more.stderr
    assert await pipeline_events(services, project) == events


async def test_apply_by_id_and_by_project_option(
    base_url: str, admin: dict[str, str], services: Services, project: str, tmp_path: Path
) -> None:
    token = admin["X-API-Key"]
    file = tmp_path / "p.yaml"
    file.write_text(
        FILE.format(project=project, name="by id").replace(f"project_id: {project}\n", "")
    )
    no_project = apply(base_url, token, file)
    assert no_project.returncode == 2 and "--project" in no_project.stderr

    created = apply(base_url, token, file, "--project", project)
    assert created.returncode == 0, created.stderr
    pipeline = created.stderr.split("created pipeline ")[1].split()[0]
    file.write_text(f"id: {pipeline}\n" + file.read_text().replace("by id", "renamed"))
    renamed = apply(base_url, token, file)
    assert renamed.returncode == 0, renamed.stderr
    assert "-name: by id" in renamed.stdout and "+name: renamed" in renamed.stdout
    events = await pipeline_events(services, project)
    assert [t for _, t in events] == ["PipelineCreated", "PipelineVersionDefined"]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("name: x\nsteps: [\n", "p.yaml:3:1"),
        ("name: x\nsteps:\n  - name: build\n    run: make\n    retries: lots\n", "p.yaml:5:14"),
        ("name: x\nsteps:\n  - {name: build, run: make, needs: [ghost]}\n", "p.yaml:3:37"),
        ("a: &a 1\nname: *a\nsteps: []\n", "p.yaml:2:7"),
    ],
)
def test_a_broken_file_is_exit_2_with_its_place(
    base_url: str, admin: dict[str, str], tmp_path: Path, text: str, place: str
) -> None:
    file = tmp_path / "p.yaml"
    file.write_text(text)
    result = apply(base_url, admin["X-API-Key"], file)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(str(tmp_path / place)), result.stderr


def test_a_definition_the_api_refuses_is_exit_5(
    base_url: str, admin: dict[str, str], project: str, tmp_path: Path
) -> None:
    file = tmp_path / "p.yaml"
    file.write_text(
        FILE.format(project=project, name="bad cron").replace("0 3 * * *", "0 25 * * *")
    )
    result = apply(base_url, admin["X-API-Key"], file)
    assert result.returncode == 5, result.stderr
    assert "triggers[0].cron" in result.stderr
