"""Secrets bound to one pipeline, end to end with a real runner: the narrowest scope wins
(environment, then pipeline, then project), and the run records which scope it got."""

from __future__ import annotations

import hashlib
import secrets as random_text
from typing import Any

from tests.helpers import unique_id
from tests.integration.runner.stack import Stack, runners
from tests.integration.runner.test_step_secrets import project_of, received, set_secret

SCRIPT = (
    'echo "value is $DB_URL"\n'
    'echo "sha=$(printf %s "$DB_URL" | sha256sum | cut -d" " -f1)" >> "$FLOWLEDGER_OUTPUTS"\n'
)


async def second_pipeline(stack: Stack, project_id: str, steps: list[dict[str, Any]]) -> str:
    body = {"project_id": project_id, "name": unique_id("p-")[:40], "steps": steps}
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def test_environment_beats_pipeline_beats_project_and_the_run_says_which(
    stack: Stack, label: str
) -> None:
    wide, mine, prod = (f"{kind}-{random_text.token_hex(8)}" for kind in ("wide", "mine", "prod"))
    steps = [
        {"name": "test", "run": SCRIPT, "labels": [label], "secrets": ["DB_URL"]},
        {
            "name": "deploy",
            "run": SCRIPT,
            "labels": [label],
            "secrets": ["DB_URL"],
            "environment": "prod",
        },
    ]
    bound = await stack.pipeline(steps)
    project_id = await project_of(stack, bound)
    other = await second_pipeline(stack, project_id, steps[:1])
    await set_secret(stack, project_id, "DB_URL", wide)
    path = f"/api/v1/projects/{project_id}/secrets/DB_URL"
    for body in ({"value": mine, "pipeline_id": bound}, {"value": prod, "environment": "prod"}):
        answer = await stack.http.put(path, json=body, headers=stack.admin)
        assert answer.status_code == 200, answer.text

    async with runners(stack.runner_config(label)):
        run_bound, run_other = await stack.trigger(bound), await stack.trigger(other)
        assert await stack.finished(run_bound) == "RunSucceeded"
        assert await stack.finished(run_other) == "RunSucceeded"
        # The pipeline's value deleted: its steps fall back to the project-wide one.
        gone = await stack.http.delete(path, params={"pipeline_id": bound}, headers=stack.admin)
        assert gone.status_code == 200, gone.text
        run_after = await stack.trigger(bound)
        assert await stack.finished(run_after) == "RunSucceeded"

    def outputs(events: list[tuple[int, str, dict[str, Any]]]) -> dict[str, str]:
        return {d["step"]: d["outputs"]["sha"] for _, t, d in events if t == "StepSucceeded"}

    bound_events = await stack.events(run_bound)
    assert outputs(bound_events) == {"test": sha(mine), "deploy": sha(prod)}
    assert outputs(await stack.events(run_other)) == {"test": sha(wide)}
    assert outputs(await stack.events(run_after)) == {"test": sha(wide), "deploy": sha(prod)}
    log = "".join(d["text"] for _, t, d in bound_events if t == "LogChunkAppended")
    assert "value is ***" in log and mine not in log and prod not in log
    used = {d["step"]: d["secrets"] for d in await received(stack, run_bound)}
    assert used == {
        "test": [{"name": "DB_URL", "version": 1, "environment": None, "pipeline_id": bound}],
        "deploy": [{"name": "DB_URL", "version": 1, "environment": "prod", "pipeline_id": None}],
    }
    [other_used] = await received(stack, run_other)
    assert other_used["secrets"][0]["pipeline_id"] is None
    assert other_used["secrets"][0]["environment"] is None
    for value in (wide, mine, prod):
        count = await stack.pool.fetchval(
            "SELECT count(*) FROM events WHERE strpos(data::text || metadata::text, $1) > 0",
            value,
        )
        assert count == 0
