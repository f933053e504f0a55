"""A run the runs view cannot hold is answered `degraded`; every other run is served as usual.

The views here are the real ones with a bug put in (they raise on the runs in `bad`), served
by a projector over a database of this test's own, read through the real API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app, open_services
from adapters.platform.admin_key import create_key
from adapters.platform.secrets import SecretBox
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from commands import pipelines, projects, run_reports, runs
from commands.context import CommandContext, Principal
from domain.envelope import EventEnvelope
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from projections import quarantine_ops
from projections.pipelines import PipelinesProjection
from projections.projects import ProjectsProjection
from projections.runs import RunsProjection
from projections.runtime import Projector
from tests.helpers import unique_id
from tests.integration.projections.counting import caught_up, running, wait_until


class _Bug:
    """Raises on RunStarted of the runs in `bad`, as a handler with a bug would."""

    bad: set[str]

    def check(self, events: Sequence[EventEnvelope]) -> None:
        for event in events:
            if event.type == "RunStarted" and event.stream_id in self.bad:
                raise KeyError(f"a bug on {event.stream_id}")


class BuggyRuns(_Bug, RunsProjection):
    def __init__(self) -> None:
        self.bad = set()

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        self.check(events)
        await super().apply(conn, schema, events)


class BuggyPipelines(_Bug, PipelinesProjection):
    def __init__(self) -> None:
        self.bad = set()

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        self.check(events)
        await super().apply(conn, schema, events)


async def send(services: Services, command: object) -> str:
    admin = Principal(id="key:t", name="t", project_id=None, scopes=frozenset({"admin"}))
    context = CommandContext(principal=admin, at=datetime.now(UTC), correlation_id=unique_id())
    return (await services.bus.dispatch(command, context)).id


async def test_only_the_failing_run_and_its_pipeline_are_degraded_until_retried(
    fresh_database_url: str, nats_url: str, tmp_path: Path
) -> None:
    url = fresh_database_url
    settings = Settings(
        database_url=url,
        nats_url=nats_url,
        data_dir=tmp_path,
        cipher_key=SecretBox.generate_key(),
        rate_limit_per_key=0,
        rate_limit_per_address=0,
    )
    buggy_runs, buggy_pipelines = BuggyRuns(), BuggyPipelines()
    views = [ProjectsProjection(), buggy_pipelines, buggy_runs]
    async with open_services(settings, url) as services, asyncpg.create_pool(url) as pool:
        _, token = await create_key(
            services, name="root", scopes=("admin",), project_id=None, at=datetime.now(UTC)
        )
        admin = {"X-API-Key": token}
        project = UUID(await send(services, projects.CreateProject(name="p", slug=unique_id("p-"))))
        definition = PipelineDefinition(name="ci", steps=(StepSpec(name="build", run="make"),))
        pipeline = UUID(
            await send(
                services, pipelines.CreatePipeline(project_id=project, definition=definition)
            )
        )
        sound, broken = [
            UUID(await send(services, runs.TriggerRun(pipeline_id=pipeline))) for _ in range(2)
        ]
        buggy_runs.bad.add(str(broken))
        buggy_pipelines.bad.add(str(broken))
        for run in (sound, broken):
            for status in ("running", "succeeded"):
                await send(
                    services, run_reports.ReportStepStatus(run_id=run, step="build", status=status)
                )

        async with (
            running(Projector(url, views)),
            AsyncTestClient(app=api_app(settings, database_url=url, nats_url=nats_url)) as http,
        ):
            for view in views:
                await wait_until(lambda v=view: caught_up(pool, v.name), what=view.name)

            bad = (await http.get(f"/api/v1/pipeline-runs/{broken}", headers=admin)).json()
            good = (await http.get(f"/api/v1/pipeline-runs/{sound}", headers=admin)).json()
            assert (bad["degraded"], bad["status"]) == (True, "queued"), "it stopped before"
            assert (good["degraded"], good["status"]) == (False, "succeeded")
            listed = (await http.get("/api/v1/pipeline-runs", headers=admin)).json()["items"]
            assert {item["id"]: item["degraded"] for item in listed} == {
                str(broken): True,
                str(sound): False,
            }
            shown = (await http.get(f"/api/v1/pipelines/{pipeline}", headers=admin)).json()
            assert shown["degraded"] is True and shown["runs_succeeded"] == 1
            views_json = (await http.get("/api/v1/projections", headers=admin)).json()
            held = {p["name"]: p["quarantine"] for p in views_json["projections"]}
            assert held["runs"]["streams"] == 1 and held["pipelines"]["events"] == 2
            assert held["projects"] is None
            ready = await http.get("/ready")
            assert ready.status_code == 200, "a view that quarantines still serves"
            check = ready.json()["checks"]["projections"]
            assert check["ok"] and check["quarantined"] == {
                "runs": held["runs"]["events"],
                "pipelines": 2,
            }

            await _refused_decisions(
                http, services, admin, held["runs"]["oldest_position"], project
            )

            # Fixed and retried over HTTP (a decision in the ledger): whole again, in order.
            buggy_runs.bad.clear()
            buggy_pipelines.bad.clear()
            for view in (buggy_runs, buggy_pipelines):
                poison = held[view.name]["oldest_position"]
                retried = await http.post(
                    f"/api/v1/projections/{view.name}/quarantine/{poison}/retry",
                    json={"reason": "fixed"},
                    headers=admin,
                )
                assert retried.status_code == 202, retried.text
                await wait_until(lambda v=view: caught_up(pool, v.name), what=view.name)
                assert await quarantine_ops.list_quarantined(pool, view.name) == []

            bad = (await http.get(f"/api/v1/pipeline-runs/{broken}", headers=admin)).json()
            assert (bad["degraded"], bad["status"]) == (False, "succeeded")
            shown = (await http.get(f"/api/v1/pipelines/{pipeline}", headers=admin)).json()
            assert shown["degraded"] is False and shown["runs_succeeded"] == 2
            ready = (await http.get("/ready")).json()
            assert "quarantined" not in ready["checks"]["projections"]


async def _refused_decisions(
    http: AsyncTestClient, services: Services, admin: dict[str, str], poison: int, project: UUID
) -> None:
    """What an operator's decision over HTTP refuses, writing nothing."""
    at = datetime.now(UTC)
    _, writer = await create_key(services, name="w", scopes=("write",), project_id=None, at=at)
    _, bound = await create_key(services, name="b", scopes=("admin",), project_id=project, at=at)
    base = "/api/v1/projections"
    head = await services.store.head_position()
    cases = [
        (admin, f"{base}/runs/quarantine/{poison}/skip", {}, 400),
        (admin, f"{base}/runs/quarantine/{poison}/skip", {"reason": ""}, 400),
        (admin, f"{base}/runs/quarantine/{poison}/skip", {"reason": "x" * 2001}, 400),
        (admin, f"{base}/runs/quarantine/{poison}/skip", {"reason": "x", "extra": 1}, 400),
        (admin, f"{base}/runs/quarantine/{poison}/skip", {"reason": " "}, 422),
        (admin, f"{base}/no_such_view/quarantine/{poison}/skip", {"reason": "x"}, 404),
        (admin, f"{base}/runs/quarantine/{poison + 1}/retry", {}, 404),
        (admin, f"{base}/runs/quarantine/0/retry", {}, 400),
        (admin, f"{base}/runs/quarantine/{2**63}/retry", {}, 400),
        ({"X-API-Key": writer}, f"{base}/runs/quarantine/{poison}/retry", {}, 403),
        ({"X-API-Key": bound}, f"{base}/runs/quarantine/{poison}/skip", {"reason": "x"}, 403),
        ({}, f"{base}/runs/quarantine/{poison}/retry", {}, 401),
    ]
    for headers, path, body, status in cases:
        answer = await http.post(path, json=body, headers=headers)
        assert answer.status_code in (status, 422 if status == 400 else status), (
            path,
            body,
            answer.text,
        )
        assert answer.headers["content-type"].startswith("application/problem+json"), path
    assert await services.store.head_position() == head, "a refused decision writes nothing"
