"""The runners, logs and analytics reads say `degraded` as the runs and pipelines do: an answer
built from a stream whose events wait in its view's quarantine says so; every other is not.

The views are the real ones with a bug put in (they raise on given events of given streams),
served by a projector over a database of this test's own, read through the real API.
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
from adapters.platform.settings import Settings
from commands import pipelines, projects, run_reports, runners, runs
from domain.envelope import EventEnvelope
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from projections.logs import LogsProjection
from projections.pipeline_stats import PipelineStatsProjection
from projections.pipelines import PipelinesProjection
from projections.projects import ProjectsProjection
from projections.runners import RunnersProjection
from projections.runs import RunsProjection
from projections.runtime import Projector
from tests.helpers import unique_id
from tests.integration.api.test_degraded_rows import send
from tests.integration.projections.counting import caught_up, running, wait_until


def buggy(view: type, bug: str) -> object:
    """The real `view`, raising on events of type `bug` of the streams in its `bad`."""

    class Buggy(view):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            self.bad: set[str] = set()

        async def apply(
            self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
        ) -> None:
            for event in events:
                if event.type == bug and event.stream_id in self.bad:
                    raise KeyError(f"a bug on {event.stream_id}")
            await super().apply(conn, schema, events)

    return Buggy()


async def test_runners_logs_and_analytics_answer_degraded_for_what_is_quarantined(
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
    buggy_runners = buggy(RunnersProjection, "RunnerDeregistered")
    buggy_logs = buggy(LogsProjection, "LogChunkAppended")
    buggy_stats = buggy(PipelineStatsProjection, "StepSucceeded")
    sound_views = [ProjectsProjection(), PipelinesProjection(), RunsProjection()]
    views = [*sound_views, buggy_runners, buggy_logs, buggy_stats]
    async with open_services(settings, url) as services, asyncpg.create_pool(url) as pool:
        _, token = await create_key(
            services, name="root", scopes=("admin",), project_id=None, at=datetime.now(UTC)
        )
        admin = {"X-API-Key": token}
        project = UUID(await send(services, projects.CreateProject(name="p", slug=unique_id("p-"))))
        definition = PipelineDefinition(name="ci", steps=(StepSpec(name="build", run="make"),))
        hit, spared = [
            UUID(
                await send(
                    services, pipelines.CreatePipeline(project_id=project, definition=definition)
                )
            )
            for _ in range(2)
        ]
        broken = UUID(await send(services, runs.TriggerRun(pipeline_id=hit)))
        sound = UUID(await send(services, runs.TriggerRun(pipeline_id=spared)))
        for run in (broken, sound):
            await send(
                services, run_reports.ReportStepStatus(run_id=run, step="build", status="running")
            )
            chunk = run_reports.LogChunk(seq=1, text="hello", step="build")
            await send(services, run_reports.AppendRunLogs(run_id=run, chunks=(chunk,)))
            await send(
                services, run_reports.ReportStepStatus(run_id=run, step="build", status="succeeded")
            )
        gone, kept = [
            UUID(
                await send(
                    services,
                    runners.RegisterRunner(
                        name=unique_id(name), labels=("linux",), host="h", version="1",
                        concurrency=1,
                    ),
                )
            )
            for name in ("gone-", "kept-")
        ]  # fmt: skip
        buggy_runners.bad.add(str(gone))
        buggy_logs.bad.add(str(broken))
        buggy_stats.bad.add(str(broken))
        for runner in (gone, kept):
            await send(services, runners.DeregisterRunner(runner_id=runner))

        async with (
            running(Projector(url, views)),
            AsyncTestClient(app=api_app(settings, database_url=url, nats_url=nats_url)) as http,
        ):
            for view in views:
                await wait_until(lambda v=view: caught_up(pool, v.name), what=view.name)

            async def get(path: str) -> dict:
                answer = await http.get(path, headers=admin)
                assert answer.status_code == 200, (path, answer.text)
                return answer.json()

            listed = (await get("/api/v1/runners"))["items"]
            assert {r["id"]: r["degraded"] for r in listed} == {str(gone): True, str(kept): False}
            shown = await get(f"/api/v1/runners/{gone}")
            assert (shown["degraded"], shown["state"]) == (True, "idle"), "it missed its end"
            assert (await get(f"/api/v1/runners/{kept}"))["state"] == "offline"

            assert (await get(f"/api/v1/pipeline-runs/{broken}/logs"))["degraded"] is True
            assert (await get(f"/api/v1/pipeline-runs/{broken}/logs"))["items"] == []
            good_logs = await get(f"/api/v1/pipeline-runs/{sound}/logs")
            assert (good_logs["degraded"], len(good_logs["items"])) == (False, 1)

            assert (await get(f"/api/v1/analytics/pipelines/{hit}"))["degraded"] is True
            assert (await get(f"/api/v1/analytics/pipelines/{spared}"))["degraded"] is False
            assert (await get("/api/v1/analytics/summary"))["degraded"] is True

            # Fixed and retried: whole again.
            for view in (buggy_runners, buggy_logs, buggy_stats):
                view.bad.clear()
                poison = await pool.fetchval(
                    "SELECT position FROM projection_quarantine WHERE projection = $1 "
                    "AND status = 'poison'",
                    view.name,
                )
                retried = await http.post(
                    f"/api/v1/projections/{view.name}/quarantine/{poison}/retry",
                    json={},
                    headers=admin,
                )
                assert retried.status_code == 202, retried.text
                await wait_until(lambda v=view: caught_up(pool, v.name), what=view.name)

            assert (await get(f"/api/v1/runners/{gone}"))["degraded"] is False
            assert (await get(f"/api/v1/runners/{gone}"))["state"] == "offline"
            healed = await get(f"/api/v1/pipeline-runs/{broken}/logs")
            assert (healed["degraded"], len(healed["items"])) == (False, 1)
            assert (await get(f"/api/v1/analytics/pipelines/{hit}"))["degraded"] is False
            assert (await get("/api/v1/analytics/summary"))["degraded"] is False
