"""A step's project secrets, end to end: set through the API, fetched by a real runner for the
attempt it runs, given to a real bash step, masked in its log, recorded by name and version."""

from __future__ import annotations

import hashlib
import secrets as random_text
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.platform.admin_key import create_key
from tests.helpers import unique_id
from tests.integration.runner.stack import Stack, runners

# Made at run time: no file of the repository holds a value.
SCRIPT = (
    'echo "token is $DEPLOY_KEY"\n'
    'echo "sha=$(printf %s "$DEPLOY_KEY" | sha256sum | cut -d" " -f1)" >> "$FLOWLEDGER_OUTPUTS"\n'
    'echo "raw=$DEPLOY_KEY" >> "$FLOWLEDGER_OUTPUTS"\n'
)


async def project_of(stack: Stack, pipeline_id: str) -> str:
    found = await stack.pool.fetchval(
        "SELECT data->>'project_id' FROM events WHERE stream_id = $1 AND version = 1",
        pipeline_id,
    )
    assert found is not None
    return str(found)


async def set_secret(stack: Stack, project_id: str, name: str, value: str) -> dict[str, Any]:
    answer = await stack.http.put(
        f"/api/v1/projects/{project_id}/secrets/{name}", json={"value": value}, headers=stack.admin
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def received(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    return [d for _, t, d in await stack.events(run_id) if t == "StepSecretsReceived"]


async def held_anywhere(stack: Stack, value: str) -> int:
    return await stack.pool.fetchval(
        "SELECT count(*) FROM events WHERE strpos(data::text || metadata::text, $1) > 0", value
    )


async def test_a_step_gets_its_secret_masked_and_the_run_records_name_and_version(
    stack: Stack, label: str
) -> None:
    first, second = "dk-" + random_text.token_urlsafe(24), "dk-" + random_text.token_urlsafe(24)
    pipeline = await stack.pipeline(
        [{"name": "deploy", "run": SCRIPT, "labels": [label], "secrets": ["DEPLOY_KEY"]}]
    )
    project_id = await project_of(stack, pipeline)
    await set_secret(stack, project_id, "DEPLOY_KEY", first)

    async with runners(stack.runner_config(label)):
        run_one = await stack.trigger(pipeline)
        assert await stack.finished(run_one) == "RunSucceeded"
        # A new value is a new version: the next run gets it, and says so.
        await set_secret(stack, project_id, "DEPLOY_KEY", second)
        run_two = await stack.trigger(pipeline)
        assert await stack.finished(run_two) == "RunSucceeded"

    events = await stack.events(run_one)
    log = "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")
    assert log.splitlines() == ["token is ***"], log
    [done] = [d for _, t, d in events if t == "StepSucceeded"]
    # The step had the real value: it hashed it. The value itself never left the runner.
    assert done["outputs"] == {"sha": hashlib.sha256(first.encode()).hexdigest(), "raw": "***"}
    [got] = await received(stack, run_one)
    assert (got["step"], got["attempt"]) == ("deploy", 1)
    assert got["secrets"] == [
        {"name": "DEPLOY_KEY", "version": 1, "environment": None, "pipeline_id": None}
    ]
    [got_two] = await received(stack, run_two)
    assert got_two["secrets"][0]["version"] == 2
    [done_two] = [d for _, t, d in await stack.events(run_two) if t == "StepSucceeded"]
    assert done_two["outputs"]["sha"] == hashlib.sha256(second.encode()).hexdigest()
    # Which runs used version 1 of DEPLOY_KEY: the auditor's question, answered by events.
    used_v1 = await stack.pool.fetch(
        "SELECT stream_id FROM events WHERE type = 'StepSecretsReceived' "
        "AND (data::jsonb)->'secrets' @> $1::jsonb",
        '[{"name": "DEPLOY_KEY", "version": 1}]',
    )
    assert [r["stream_id"] for r in used_v1 if r["stream_id"] in (run_one, run_two)] == [run_one]
    for value in (first, second):
        assert await held_anywhere(stack, value) == 0


async def test_a_missing_or_deleted_secret_fails_the_attempt_naming_it(
    stack: Stack, label: str
) -> None:
    pipeline = await stack.pipeline(
        [
            {
                "name": "deploy",
                "run": "echo should-not-run",
                "labels": [label],
                "secrets": ["GONE_KEY"],
            }
        ]
    )
    project_id = await project_of(stack, pipeline)
    await set_secret(stack, project_id, "GONE_KEY", "to-be-deleted-" + random_text.token_hex(8))
    deleted = await stack.http.delete(
        f"/api/v1/projects/{project_id}/secrets/GONE_KEY", headers=stack.admin
    )
    assert deleted.status_code == 200, deleted.text

    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunFailed"

    events = await stack.events(run_id)
    [failed] = [d for _, t, d in events if t == "StepFailed"]
    assert "GONE_KEY" in failed["reason"] and "secret_missing" in failed["reason"]
    log = "".join(d["text"] for _, t, d in events if t == "LogChunkAppended")
    assert "should-not-run" not in log and "GONE_KEY" in log
    assert await received(stack, run_id) == []


async def test_secrets_go_only_to_the_runner_running_that_attempt(stack: Stack, label: str) -> None:
    value = "only-for-the-runner-" + random_text.token_hex(8)
    pipeline = await stack.pipeline(
        [{"name": "wait", "run": "sleep 30", "labels": [label], "secrets": ["TOKEN"]}]
    )
    project_id = await project_of(stack, pipeline)
    await set_secret(stack, project_id, "TOKEN", value)
    run_id = await stack.trigger(pipeline)
    runner_key = {"X-API-Key": stack.runner_token}
    path = f"/api/v1/pipeline-runs/{run_id}/secrets"

    # Nobody runs it yet: no attempt is running, so nobody gets anything.
    before = await stack.http.post(path, json={"step": "wait", "attempt": 1}, headers=runner_key)
    assert before.status_code == 409, before.text
    # Claim it as runner "r-1", then ask as someone else and for another attempt.
    claim = await stack.http.post(
        f"/api/v1/pipeline-runs/{run_id}/status",
        json={"step": "wait", "attempt": 1, "status": "running", "runner": "r-1"},
        headers=runner_key,
    )
    assert claim.status_code == 202, claim.text
    other_runner = await stack.http.post(
        path, json={"step": "wait", "attempt": 1, "runner": "r-2"}, headers=runner_key
    )
    other_attempt = await stack.http.post(
        path, json={"step": "wait", "attempt": 2, "runner": "r-1"}, headers=runner_key
    )
    _, writer = await create_key(
        stack.services, name="writer", scopes=("write",), project_id=None, at=_now()
    )
    _, foreign = await create_key(
        stack.services,
        name="foreign-runner",
        scopes=("runner",),
        project_id=await _another_project(stack),
        at=_now(),
    )
    as_writer = await stack.http.post(
        path, json={"step": "wait", "attempt": 1, "runner": "r-1"}, headers={"X-API-Key": writer}
    )
    as_foreign = await stack.http.post(
        path, json={"step": "wait", "attempt": 1, "runner": "r-1"}, headers={"X-API-Key": foreign}
    )
    malformed = await stack.http.post(path, json={"step": "wait"}, headers=runner_key)

    assert other_runner.status_code == 409, other_runner.text
    assert other_attempt.status_code == 409, other_attempt.text
    assert as_writer.status_code == 403, as_writer.text
    assert as_foreign.status_code == 404, as_foreign.text
    assert malformed.status_code == 422, malformed.text
    for answer in (before, other_runner, other_attempt, as_writer, as_foreign, malformed):
        assert value not in answer.text
    right = await stack.http.post(
        path, json={"step": "wait", "attempt": 1, "runner": "r-1"}, headers=runner_key
    )
    assert right.status_code == 200, right.text
    assert right.json()["values"] == {"TOKEN": value}
    assert right.headers["cache-control"] == "no-store"
    assert [u["version"] for u in right.json()["used"]] == [1]
    assert len(await received(stack, run_id)) == 1
    cancel = await stack.http.post(
        f"/api/v1/pipeline-runs/{run_id}/cancel", json={}, headers=stack.admin
    )
    assert cancel.status_code in (200, 202), cancel.text


def _now() -> datetime:
    return datetime.now(UTC)


async def _another_project(stack: Stack) -> UUID:
    answer = await stack.http.post(
        "/api/v1/projects",
        json={"name": "elsewhere", "slug": unique_id("e-")[:40]},
        headers=stack.admin,
    )
    assert answer.status_code == 201, answer.text
    return UUID(answer.json()["id"])


async def test_a_step_in_an_environment_gets_the_value_bound_to_it(
    stack: Stack, label: str
) -> None:
    wide, prod = "wide-" + random_text.token_hex(8), "prod-" + random_text.token_hex(8)
    script = 'echo "len=${#DB_URL}" >> "$FLOWLEDGER_OUTPUTS"\n' + (
        'echo "sha=$(printf %s "$DB_URL" | sha256sum | cut -d" " -f1)" >> "$FLOWLEDGER_OUTPUTS"\n'
    )
    pipeline = await stack.pipeline(
        [
            {"name": "test", "run": script, "labels": [label], "secrets": ["DB_URL"]},
            {
                "name": "deploy",
                "run": script,
                "labels": [label],
                "secrets": ["DB_URL"],
                "environment": "prod",
            },
        ]
    )
    project_id = await project_of(stack, pipeline)
    await set_secret(stack, project_id, "DB_URL", wide)
    answer = await stack.http.put(
        f"/api/v1/projects/{project_id}/secrets/DB_URL",
        json={"value": prod, "environment": "prod"},
        headers=stack.admin,
    )
    assert answer.status_code == 200, answer.text

    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunSucceeded"

    events = await stack.events(run_id)
    outputs = {d["step"]: d["outputs"] for _, t, d in events if t == "StepSucceeded"}
    assert outputs["test"]["sha"] == hashlib.sha256(wide.encode()).hexdigest()
    assert outputs["deploy"]["sha"] == hashlib.sha256(prod.encode()).hexdigest()
    used = {d["step"]: d["secrets"] for d in await received(stack, run_id)}
    assert used == {
        "test": [{"name": "DB_URL", "version": 1, "environment": None, "pipeline_id": None}],
        "deploy": [{"name": "DB_URL", "version": 1, "environment": "prod", "pipeline_id": None}],
    }
