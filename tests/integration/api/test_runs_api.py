"""A run over HTTP from request to success, and the ways it can go otherwise."""

from __future__ import annotations

import asyncio
from uuid import UUID

from litestar.testing import AsyncTestClient

from tests.helpers import unique_id


async def pipeline(
    client: AsyncTestClient, admin: dict[str, str], **step_extra: object
) -> tuple[str, str]:
    project = await client.post(
        "/api/v1/projects", json={"name": "runs", "slug": unique_id("r-")[:40]}, headers=admin
    )
    body = {
        "project_id": project.json()["id"],
        "name": "ci",
        "parameters": [
            {"name": "TARGET", "default": "linux"},
            {"name": "N", "type": "integer", "default": 1},
        ],
        "steps": [
            {"name": "build", "run": "make", **step_extra},
            {"name": "test", "run": "make test", "needs": ["build"]},
        ],
    }
    created = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return project.json()["id"], created.json()["id"]


async def trigger(
    client: AsyncTestClient, headers: dict[str, str], pipeline_id: str, **body: object
) -> str:
    response = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/runs", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def step(client, headers, run: str, **report: object):
    return await client.post(f"/api/v1/pipeline-runs/{run}/status", json=report, headers=headers)


async def test_a_run_from_request_to_success_with_steps_and_logs(
    client: AsyncTestClient, admin: dict[str, str], keys, services
) -> None:
    project, pipeline_id = await pipeline(client, admin)
    runner = await keys.make("runner", project_id=UUID(project), name="runner-1")
    run = await trigger(
        client, admin, pipeline_id, parameters={"N": 3}, ref="refs/heads/main", sha="abc123"
    )

    reports = [
        await step(client, runner, run, step="build", status="running", runner="runner-1"),
        await client.post(
            f"/api/v1/pipeline-runs/{run}/logs",
            json={
                "chunks": [
                    {"seq": 1, "step": "build", "text": "compiling\n"},
                    {"seq": 2, "step": "build", "stream": "stderr", "text": "warning: x\n"},
                ]
            },
            headers=runner,
        ),
        await step(
            client,
            runner,
            run,
            step="build",
            status="succeeded",
            exit_code=0,
            outputs={"artifact": "app.tar"},
            metrics={"tokens_in": 120, "cost_usd": 0.02},
        ),
        await step(client, runner, run, step="test", status="running"),
        await step(client, runner, run, step="test", status="succeeded"),
    ]

    assert [r.status_code for r in reports] == [202] * 5, [r.text for r in reports]
    events = await services.store.read_stream(run)
    assert [e.type for e in events] == [
        "RunRequested",
        "StepQueued",
        "RunStarted",
        "StepStarted",
        "LogChunkAppended",
        "LogChunkAppended",
        "StepSucceeded",
        "StepQueued",
        "StepStarted",
        "StepSucceeded",
        "RunSucceeded",
    ]
    requested = events[0].data
    assert requested["parameters"] == {"TARGET": "linux", "N": 3}
    assert requested["pipeline_version"] == 1
    assert requested["trigger"]["kind"] == "api"
    assert requested["trigger"]["ref"] == "refs/heads/main"
    assert {e.metadata.actor for e in events[1:]} == {"runner-1"}
    assert reports[-1].json()["position"] == events[-1].position


async def test_a_step_reported_timed_out_ends_timed_out_and_a_second_report_is_refused(
    client: AsyncTestClient, admin: dict[str, str], keys, services
) -> None:
    project, pipeline_id = await pipeline(client, admin, timeout_s=30)
    runner = await keys.make("runner", project_id=UUID(project), name="runner-1")
    run = await trigger(client, admin, pipeline_id)

    started = await step(client, runner, run, step="build", status="running", runner="runner-1")
    ended = await step(client, runner, run, step="build", status="timed_out", metrics={"cpu": 2})
    again = await step(client, runner, run, step="build", status="timed_out")

    assert (started.status_code, ended.status_code) == (202, 202), ended.text
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    events = await services.store.read_stream(run)
    assert [e.type for e in events[-4:]] == [
        "StepStarted",
        "StepTimedOut",
        "StepSkipped",
        "RunFailed",
    ]
    assert events[-3].data["timeout_s"] == 30 and events[-3].data["metrics"] == {"cpu": 2.0}
    assert events[-1].data["reason"] == "build timed out"


async def test_a_step_cannot_start_before_its_needs(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    _, pipeline_id = await pipeline(client, admin)
    run = await trigger(client, admin, pipeline_id)

    response = await step(client, admin, run, step="test", status="running")

    assert response.status_code == 422
    assert response.json()["code"] == "step_not_ready"


async def test_two_concurrent_cancels_record_one_cancel_request(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    _, pipeline_id = await pipeline(client, admin)
    run = await trigger(client, admin, pipeline_id)
    await step(client, admin, run, step="build", status="running")

    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/pipeline-runs/{run}/cancel", json={"reason": "stop"}, headers=admin
            )
            for _ in range(2)
        )
    )

    assert [a.status_code for a in answers] == [202, 202]
    types = [e.type for e in await services.store.read_stream(run)]
    assert types.count("RunCancelRequested") == 1


async def test_a_finished_run_cannot_be_cancelled_but_can_be_retried(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    _, pipeline_id = await pipeline(client, admin)
    run = await trigger(client, admin, pipeline_id)
    await step(client, admin, run, step="build", status="running")
    failed = await step(
        client, admin, run, step="build", status="failed", exit_code=2, reason="boom"
    )
    assert failed.status_code == 202

    cancel = await client.post(f"/api/v1/pipeline-runs/{run}/cancel", headers=admin)
    retried = await client.post(f"/api/v1/pipeline-runs/{run}/retry", headers=admin)

    assert cancel.status_code == 409
    assert cancel.json()["code"] == "illegal_transition"
    assert retried.status_code == 201
    [requested] = await services.store.read_stream(retried.json()["id"])
    assert requested.data["retry_of"] == run
    assert requested.data["trigger"]["kind"] == "retry"


async def test_an_external_run_takes_its_status_from_outside(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    _, pipeline_id = await pipeline(client, admin)
    external = {
        "provider": "jenkins",
        "external_id": "job/ci/42",
        "url": "https://ci.example/job/ci/42",
    }
    run = await trigger(client, admin, pipeline_id, external=external)

    running = await step(client, admin, run, status="running")
    again = await step(client, admin, run, status="running")
    done = await step(client, admin, run, status="succeeded")

    retry = await client.post(f"/api/v1/pipeline-runs/{run}/retry", headers=admin)

    assert [r.status_code for r in (running, again, done)] == [202, 202, 202]
    assert (retry.status_code, retry.json()["code"]) == (422, "run_kind_mismatch")
    assert [e.type for e in await services.store.read_stream(run)] == [
        "RunRequested",
        "RunStarted",
        "RunSucceeded",
    ]


async def test_parameters_are_checked_against_the_pipeline(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    _, pipeline_id = await pipeline(client, admin)

    wrong_type = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/runs", json={"parameters": {"N": "3"}}, headers=admin
    )
    unknown = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/runs", json={"parameters": {"NOPE": 1}}, headers=admin
    )
    no_version = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/runs", json={"pipeline_version": 9}, headers=admin
    )

    assert (wrong_type.status_code, wrong_type.json()["code"]) == (422, "invalid_value")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "invalid_value")
    assert (no_version.status_code, no_version.json()["code"]) == (404, "unknown_pipeline_version")


async def test_a_log_gap_is_refused_and_a_repeat_is_harmless(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    _, pipeline_id = await pipeline(client, admin)
    run = await trigger(client, admin, pipeline_id)
    chunk = {"seq": 1, "text": "hello\n"}

    first = await client.post(
        f"/api/v1/pipeline-runs/{run}/logs", json={"chunks": [chunk]}, headers=admin
    )
    repeat = await client.post(
        f"/api/v1/pipeline-runs/{run}/logs", json={"chunks": [chunk]}, headers=admin
    )
    gap = await client.post(
        f"/api/v1/pipeline-runs/{run}/logs",
        json={"chunks": [{"seq": 5, "text": "x"}]},
        headers=admin,
    )

    assert (first.status_code, repeat.status_code) == (202, 202)
    assert (gap.status_code, gap.json()["code"]) == (422, "log_sequence_gap")
    assert [e.type for e in await services.store.read_stream(run)].count("LogChunkAppended") == 1


async def test_a_read_only_key_cannot_trigger(
    client: AsyncTestClient, admin: dict[str, str], keys
) -> None:
    project, pipeline_id = await pipeline(client, admin)
    reader = await keys.make("read", project_id=UUID(project))

    response = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", json={}, headers=reader)

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
