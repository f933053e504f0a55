"""Per-step commit reports (`step_statuses: true`): each step is reported as its own status or
check run beside the run's, against the local hosts of git_hosts.py and github_app_host.py
(their documents named there)."""

from __future__ import annotations

import uuid

import pytest

from commands.pipelines import CreatePipeline
from commands.secrets import SetSecret
from domain.commit_status import step_report_stream_id
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from tests.integration.outbound.git_hosts import git_hosts
from tests.integration.outbound.github_app_host import GitHubApp, github_app
from tests.integration.outbound.test_commit_statuses import (
    TOKEN,
    attempts,
    finish,
    statuses,
    webhook_run,
)
from tests.integration.outbound.test_github_app_checks import (
    APP_ID,
    INSTALLATION,
    PUBLIC,
    installed,
)
from tests.integration.outbound.test_github_app_checks import statuses as app_statuses
from tests.integration.outbound.world import World, eventually

pytestmark = pytest.mark.timeout(120)


async def per_step_pipeline(world: World, project: str, *, per_step: bool = True) -> uuid.UUID:
    definition = PipelineDefinition(
        name="ci", steps=(StepSpec(name="build", run="make"),), step_statuses=per_step
    )
    made = await world.do(CreatePipeline(project_id=uuid.UUID(project), definition=definition))
    return uuid.UUID(made["id"])


async def step_attempts(world: World, run_id: uuid.UUID, step: str, count: int) -> list:
    async def found() -> list:
        stream = str(step_report_stream_id(run_id, step))
        events = await world.services.store.read_stream(stream)
        tried = [e for e in events if e.type == "CommitStatusAttempted"]
        return [events[0], *tried] if len(tried) >= count else []

    return await eventually(found)


async def test_each_step_gets_a_status_of_its_own_beside_the_runs(world: World) -> None:
    home = await world.project()
    await world.do(SetSecret(project_id=uuid.UUID(home), name="GITHUB_TOKEN", value=TOKEN))
    with git_hosts(TOKEN) as hosts:
        async with world.deliverer(statuses(hosts)):
            run = await webhook_run(
                world, home, await per_step_pipeline(world, home), "github", "o/r"
            )
            await finish(world, run, "failed")
            await attempts(world, run, 3)
            opened, *tried = await step_attempts(world, run, "build", 3)

    by_context: dict[str, list[str]] = {}
    for status in hosts.accepted:
        by_context.setdefault(status.body["context"], []).append(status.body["state"])
    assert by_context == {
        "flowledger/ci": ["pending", "pending", "failure"],
        "flowledger/ci/build": ["pending", "pending", "failure"],
    }
    assert (opened.type, opened.data["step"], opened.data["run_id"]) == (
        "CommitStatusReportOpened",
        "build",
        str(run),
    )
    assert [(e.data["state"], e.data["http_status"]) for e in tried] == [
        ("queued", 201),
        ("running", 201),
        ("failure", 201),
    ]


async def test_without_step_statuses_only_the_run_is_reported(world: World) -> None:
    home = await world.project()
    await world.do(SetSecret(project_id=uuid.UUID(home), name="GITHUB_TOKEN", value=TOKEN))
    with git_hosts(TOKEN) as hosts:
        async with world.deliverer(statuses(hosts)):
            pipeline = await per_step_pipeline(world, home, per_step=False)
            run = await webhook_run(world, home, pipeline, "github", "o/r")
            await finish(world, run, "succeeded")
            await attempts(world, run, 3)

    assert {s.body["context"] for s in hosts.accepted} == {"flowledger/ci"}
    stream = str(step_report_stream_id(run, "build"))
    assert await world.services.store.read_stream(stream) == []


async def test_as_an_app_each_step_is_a_check_run_of_its_own(world: World) -> None:
    home = await installed(world)
    with github_app(GitHubApp(APP_ID, INSTALLATION, PUBLIC)) as app:
        async with world.deliverer(app_statuses(app)):
            run = await webhook_run(
                world, home, await per_step_pipeline(world, home), "github", "o/r"
            )
            await finish(world, run, "succeeded")
            await attempts(world, run, 3)
            await step_attempts(world, run, "build", 3)

    runs = {c.bodies[0]["name"]: c for c in app.check_runs.values()}
    assert set(runs) == {"flowledger/ci", "flowledger/ci/build"}
    step = runs["flowledger/ci/build"]
    assert step.bodies[0]["external_id"] == f"{run}/build"
    assert [b["status"] for b in step.bodies] == ["queued", "in_progress", "completed"]
    assert step.bodies[-1]["conclusion"] == "success"
    assert len(app.claims) == 1
