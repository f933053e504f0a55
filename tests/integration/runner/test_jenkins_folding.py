"""Jenkins' own notifications (the Notification plugin, through a `jenkins` webhook source)
about a build a jenkins step started are folded into that step's run, matched by job and
build number, even when the notification outruns the runner; other builds are mirrored as
before. The local Jenkins is tests/integration/runner/jenkins_server.py (documents named
there); the notification bodies follow tests/fixtures/webhooks/jenkins."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets as random_text
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapters.webhooks.intake import IntakeProcess
from projections.runtime import Projector
from tests.databases import start_projection_at_head
from tests.helpers import unique_id
from tests.integration.runner.jenkins_server import FakeJenkins, JobScript, serving
from tests.integration.runner.stack import WAIT_S, Stack, runners
from tests.integration.runner.test_jenkins_steps import USER, jenkins_step
from tests.integration.runner.test_step_secrets import set_secret

FIXTURE = Path(__file__).parents[2] / "fixtures/webhooks/jenkins/notification.completed.json"


@contextlib.asynccontextmanager
async def intake(stack: Stack) -> AsyncIterator[None]:
    """The webhook intake as `up` runs it (folding from the jenkins_builds view), on its own
    checkpoint from the head."""
    process = IntakeProcess(stack.services, name=unique_id("intake_")[:40])
    await start_projection_at_head(stack.pool, process)
    stop = asyncio.Event()
    assert stack.settings.database_url
    task = asyncio.create_task(Projector(stack.settings.database_url, [process]).run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


async def notify(stack: Stack, source: dict[str, Any], **build: Any) -> str:
    """POST a notification as the plugin does; the delivery's stream id."""
    body = json.loads(FIXTURE.read_text())
    body["name"] = build.pop("name")
    body["build"].update(build)
    answer = await stack.http.post(
        f"/webhooks/jenkins/{source['id']}", params={"token": source["secret"]}, json=body
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["delivery"])


async def processed(stack: Stack, delivery: str) -> dict[str, Any]:
    async with asyncio.timeout(WAIT_S):
        while True:
            found = await stack.pool.fetchval(
                "SELECT data FROM events WHERE stream_id = $1 AND type = "
                "'WebhookDeliveryProcessed'",
                delivery,
            )
            if found is not None:
                return json.loads(found)
            await asyncio.sleep(0.05)


async def test_notifications_of_a_steps_build_fold_into_its_run_and_others_are_mirrored(
    stack: Stack, label: str
) -> None:
    token = random_text.token_hex(16)
    # Long in the queue: the plugin's STARTED notification arrives before the runner knows #41.
    jobs = {"team/app": JobScript(["building app"], queue_polls=40)}
    with serving(FakeJenkins(USER, token, jobs)) as j:
        project = await stack.http.post(
            "/api/v1/projects", json={"name": "fold", "slug": unique_id("f-")[:40]},
            headers=stack.admin,
        )  # fmt: skip
        project_id = project.json()["id"]
        pipeline = await stack.http.post(
            "/api/v1/pipelines",
            json={
                "project_id": project_id,
                "name": unique_id("p-")[:40],
                "steps": [jenkins_step(label, j.url, "team/app")],
                "triggers": [{"source": "jenkins", "events": ["build"]}],
            },
            headers=stack.admin,
        )
        assert pipeline.status_code == 201, pipeline.text
        await set_secret(stack, project_id, "JENKINS_TOKEN", token)
        answer = await stack.http.post(
            "/api/v1/webhook-sources",
            json={"project_id": project_id, "kind": "jenkins", "name": unique_id("j-")[:40]},
            headers=stack.admin,
        )
        assert answer.status_code == 201, answer.text
        source = answer.json()
        build_url = f"{j.url}/job/team/job/app/41/"
        async with intake(stack), runners(stack.runner_config(label, jenkins_poll_s=0.05)):
            run_id = await stack.trigger(pipeline.json()["id"])
            await stack.wait_for_event(run_id, ["JenkinsBuildRequested"])
            started = await notify(stack, source, name="app", number=41, phase="STARTED",
                                   status=None, full_url=build_url)  # fmt: skip
            early = await processed(stack, started)
            assert await stack.finished(run_id) == "RunSucceeded"
            completed = await notify(stack, source, name="app", number=41, full_url=build_url)
            late = await processed(stack, completed)
            other = await notify(stack, source, name="nightly", number=7,
                                 full_url=f"{j.url}/job/nightly/7/")  # fmt: skip
            mirrored = await processed(stack, other)

    linked = [(p, t) for p, t, _ in await stack.events(run_id) if t.startswith("JenkinsBuild")]
    assert [t for _, t in linked] == ["JenkinsBuildRequested", "JenkinsBuildLinked"]
    # The STARTED notification was received before the run knew its build: the intake waited.
    received_at = await stack.pool.fetchval(
        "SELECT position FROM events WHERE stream_id = $1 AND type = 'WebhookReceived'", started
    )
    assert linked[0][0] < received_at < linked[1][0]
    for outcome, status in ((early, "running"), (late, "succeeded")):
        assert (outcome["outcome"], outcome["runs"]) == ("updated", [run_id]), outcome
        assert outcome["reason"] == (
            f"folded: jenkins run app#41 {status} was started by step deploy (attempt 1) "
            "of this run"
        )
    # A build no step started is mirrored as a run of its own, as before.
    assert mirrored["outcome"] == "triggered" and mirrored["runs"] != [run_id], mirrored
    runs_of_pipeline = await stack.pool.fetchval(
        "SELECT count(*) FROM events WHERE type = 'RunRequested' AND data->>'pipeline_id' = $1",
        pipeline.json()["id"],
    )
    assert runs_of_pipeline == 2
