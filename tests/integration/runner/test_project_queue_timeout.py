"""A project's default queue timeout (issue 18, item 5): set through the API with who set it
and why, checked, shown on the project, and failing `no_runner` a job whose step sets none."""

from __future__ import annotations

import json
import uuid

from tests.integration.runner.stack import Stack


async def project_of(stack: Stack, pipeline_id: str) -> str:
    answer = await stack.http.get(f"/api/v1/pipelines/{pipeline_id}", headers=stack.admin)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["project_id"])


async def put_timeout(stack: Stack, project_id: str, body: object) -> tuple[int, str]:
    answer = await stack.http.put(
        f"/api/v1/projects/{project_id}/queue-timeout", json=body, headers=stack.admin
    )
    return answer.status_code, answer.text


async def test_a_project_default_fails_a_job_no_runner_serves(stack: Stack, label: str) -> None:
    pipeline = await stack.pipeline(
        [{"name": "orphan", "run": "true", "labels": [label]},
         {"name": "after", "run": "true", "labels": [label]}]
    )  # fmt: skip
    project_id = await project_of(stack, pipeline)
    status, text = await put_timeout(
        stack, project_id, {"default_queue_timeout_s": 1, "reason": "fail fast in CI"}
    )
    assert status == 202, text

    run_id = await stack.trigger(pipeline)
    assert await stack.finished(run_id) == "RunFailed"
    events = await stack.events(run_id)
    (failed,) = [d for _, t, d in events if t == "StepFailed"]
    assert failed["step"] == "orphan"
    assert failed["reason"] == (
        "no_runner: no runner started it within 1s (the project's default queue timeout)"
    )
    assert [d["step"] for _, t, d in events if t == "StepSkipped"] == ["after"]

    # Recorded on the project: the value, why, and who (the caller's key, in the metadata).
    row = await stack.pool.fetchrow(
        "SELECT data, metadata FROM events WHERE stream_id = $1 "
        "AND type = 'ProjectQueueTimeoutSet'",
        project_id,
    )
    data, metadata = json.loads(row["data"]), json.loads(row["metadata"])
    assert (data["default_queue_timeout_s"], data["reason"]) == (1, "fail fast in CI")
    assert metadata["actor"] == "admin"
    shown = await stack.http.get(f"/api/v1/projects/{project_id}", headers=stack.admin)
    assert shown.json()["default_queue_timeout_s"] == 1


async def test_a_steps_own_timeout_wins_and_clearing_the_default_goes_back_to_the_server(
    stack: Stack, label: str
) -> None:
    pipeline = await stack.pipeline(
        [{"name": "own", "run": "true", "labels": [label], "queue_timeout_s": 1}]
    )
    project_id = await project_of(stack, pipeline)
    assert (await put_timeout(stack, project_id, {"default_queue_timeout_s": 3600}))[0] == 202
    run_id = await stack.trigger(pipeline)
    assert await stack.finished(run_id) == "RunFailed"
    (failed,) = [d for _, t, d in await stack.events(run_id) if t == "StepFailed"]
    assert failed["reason"].endswith("within 1s (the step's queue_timeout_s)")

    assert (await put_timeout(stack, project_id, {"default_queue_timeout_s": None}))[0] == 202
    answer = await stack.http.get(f"/api/v1/projects/{project_id}", headers=stack.admin)
    assert answer.status_code == 200 and answer.json()["default_queue_timeout_s"] is None
    # The same value again decides nothing: no second event.
    assert (await put_timeout(stack, project_id, {"default_queue_timeout_s": None}))[0] == 202
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM events WHERE stream_id = $1 AND type = 'ProjectQueueTimeoutSet'",
        project_id,
    )
    assert count == 2


async def test_bad_queue_timeouts_are_refused(stack: Stack, label: str) -> None:
    pipeline = await stack.pipeline([{"name": "a", "run": "true", "labels": [label]}])
    project_id = await project_of(stack, pipeline)
    for body in (
        {"default_queue_timeout_s": 0},
        {"default_queue_timeout_s": 86_401},
        {"default_queue_timeout_s": -5},
        {"default_queue_timeout_s": 1.5},
        {"default_queue_timeout_s": 60, "why": "unknown field"},
        {"default_queue_timeout_s": 60, "reason": "x" * 5000},
        {},
    ):
        status, text = await put_timeout(stack, project_id, body)
        assert status in (400, 422), (body, status, text)
        assert "default_queue_timeout_s" in text or "reason" in text or "why" in text, text
    status, text = await put_timeout(stack, str(uuid.uuid4()), {"default_queue_timeout_s": 60})
    assert status == 404, text
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM events WHERE stream_id = $1 AND type = 'ProjectQueueTimeoutSet'",
        project_id,
    )
    assert count == 0
