"""AI usage and failure analytics over HTTP, from what steps report (metrics, outputs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.integration.api.queries_support import (
    get,
    pipeline,
    project,
    report,
    trigger,
)

pytestmark = pytest.mark.usefixtures("projector")


async def ai_step(client, admin, run_id: str, step: str, **usage) -> int:
    await report(client, admin, run_id, step=step, status="running")
    metrics = {k: v for k, v in usage.items() if not isinstance(v, str)}
    outputs = {k: v for k, v in usage.items() if isinstance(v, str)}
    return await report(
        client,
        admin,
        run_id,
        step=step,
        status="succeeded",
        exit_code=0,
        metrics={f"ai.{k}": v for k, v in metrics.items()},
        outputs={f"ai.{k}": v for k, v in outputs.items()},
    )


async def test_usage_is_summed_per_pipeline_model_and_day(client, admin) -> None:
    home = await project(client, admin)
    ci = await pipeline(client, admin, home)
    first = (await trigger(client, admin, ci))["id"]
    second = (await trigger(client, admin, ci))["id"]
    await ai_step(client, admin, first, "build", input_tokens=100, output_tokens=20, cost=0.5,
                  model="gpt-x", provider="openai", currency="USD")  # fmt: skip
    await ai_step(client, admin, second, "build", input_tokens=50, output_tokens=5, cost=0.25,
                  model="gpt-x", provider="openai", currency="USD")  # fmt: skip
    # Reported as outputs, as a runner's $FLOWLEDGER_OUTPUTS file would: numbers as text.
    as_text = {"input_tokens": "7", "output_tokens": "3", "cost": "0.01", "currency": "EUR"}
    at = await ai_step(
        client, admin, first, "test", model="claude-y", provider="anthropic", **as_text
    )

    found = await get(client, admin, "/api/v1/analytics/usage", at=at, project_id=home)

    today = datetime.now(UTC).date().isoformat()
    rows = {row["model"]: row for row in found["items"]}
    assert set(rows) == {"gpt-x", "claude-y"}
    assert rows["gpt-x"] == {
        "pipeline_id": ci,
        "day": today,
        "model": "gpt-x",
        "provider": "openai",
        "currency": "USD",
        "steps": 2,
        "input_tokens": 150.0,
        "output_tokens": 25.0,
        "cost": 0.75,
    }
    assert (rows["claude-y"]["input_tokens"], rows["claude-y"]["cost"]) == (7.0, 0.01)
    assert rows["claude-y"]["currency"] == "EUR"


async def test_failures_are_grouped_by_step_exit_code_and_reason(client, admin) -> None:
    home = await project(client, admin)
    ci = await pipeline(client, admin, home)
    at = 0
    for code in (2, 2, 137):
        run = (await trigger(client, admin, ci))["id"]
        await report(client, admin, run, step="build", status="running")
        reason = "killed" if code == 137 else "tests failed"
        at = await report(
            client, admin, run, step="build", status="failed", exit_code=code, reason=reason
        )

    found = await get(client, admin, "/api/v1/analytics/errors", at=at, project_id=home)

    groups = [(g["step"], g["exit_code"], g["reason"], g["failures"]) for g in found["items"]]
    assert groups == [("build", 2, "tests failed", 2), ("build", 137, "killed", 1)]
    assert found["items"][0]["pipelines"] == 1


async def test_another_projects_usage_is_not_seen(client, admin, keys) -> None:
    mine, theirs = await project(client, admin), await project(client, admin)
    ci = await pipeline(client, admin, theirs)
    run = (await trigger(client, admin, ci))["id"]
    at = await ai_step(client, admin, run, "build", input_tokens=1, model="m")
    reader = await keys.make("read", project_id=uuid.UUID(mine))

    own = await get(client, reader, "/api/v1/analytics/usage", at=at)
    refused = await client.get(
        "/api/v1/analytics/usage", params={"project_id": theirs}, headers=reader
    )

    assert own["items"] == []
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "params", [{"days": "0"}, {"days": "x"}, {"pipeline_id": "nope"}, {"limit": "0"}, {"q": "1"}]
)
async def test_bad_parameters_are_422(client, admin, params) -> None:
    path = "/api/v1/analytics/errors"
    response = await client.get(path, params=params, headers=admin)
    assert response.status_code == 422
