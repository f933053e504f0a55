"""Conditions (`if:`) end to end: defined over HTTP, decided by the dispatcher, run by runners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import unique_id
from tests.integration.runner.stack import Stack, runners


def by_step(events: list, kind: str) -> dict[str, dict[str, Any]]:
    return {d["step"]: d for _, t, d in events if t == kind}


async def trigger(stack: Stack, pipeline: str, *, ref: str | None = None, **parameters: Any) -> str:
    body: dict[str, Any] = {"parameters": parameters}
    if ref is not None:
        body["ref"] = ref
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline}/runs", json=body, headers=stack.admin
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_a_failed_step_is_followed_by_its_always_cleanup_and_the_run_stays_failed(
    stack: Stack, label: str, shared: Path
) -> None:
    pipeline = await stack.pipeline(
        [
            {"name": "build", "run": "echo building\nexit 2", "labels": [label]},
            {"name": "ship", "run": f"touch {shared}/shipped", "needs": ["build"],
             "labels": [label]},
            {"name": "cleanup", "needs": ["build"], "if": "${{ always() }}", "labels": [label],
             "run": f'echo "cleaned after $OUTCOME" > {shared}/cleanup',
             "env": {"OUTCOME": "build"}},
            {"name": "notify", "needs": ["build"], "if": "failure()", "labels": [label],
             "run": f"touch {shared}/notified"},
            {"name": "celebrate", "needs": ["build"], "if": "success()", "labels": [label],
             "run": f"touch {shared}/celebrated"},
        ]
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await stack.finished(run_id) == "RunFailed"

    events = await stack.events(run_id)
    assert set(by_step(events, "StepSucceeded")) == {"cleanup", "notify"}
    assert (shared / "cleanup").read_text() == "cleaned after build\n"
    assert (shared / "notified").exists()
    assert not (shared / "shipped").exists() and not (shared / "celebrated").exists()
    skipped = by_step(events, "StepSkipped")
    assert skipped["ship"]["reason"] == "build failed"
    assert skipped["celebrate"]["reason"] == "if: success() evaluated to false"
    failed = next(d for _, t, d in events if t == "RunFailed")
    assert failed["step"] == "build"
    view = await stack.viewed(run_id, lambda r: r["status"] == "failed")
    statuses = {s["name"]: s["status"] for s in view["steps"]}
    assert statuses == {"build": "failed", "ship": "skipped", "cleanup": "succeeded",
                        "notify": "succeeded", "celebrate": "skipped"}  # fmt: skip


async def test_a_condition_over_a_parameter_and_the_branch(
    stack: Stack, label: str, shared: Path
) -> None:
    deploy_if = "params.target == 'production' && startsWith(branch, 'release/')"
    pipeline = await stack.pipeline(
        [
            {"name": "build", "labels": [label],
             "run": 'echo "version=1.2.$FLOWLEDGER_PARAM_patch" >> "$FLOWLEDGER_OUTPUTS"'},
            {"name": "deploy", "needs": ["build"], "if": deploy_if, "labels": [label],
             "run": f"echo deployed >> {shared}/deploys"},
            {"name": "announce", "needs": ["deploy"], "labels": [label],
             "if": "steps.build.outputs.version == '1.2.7' && !failure()",
             "run": f"echo announced >> {shared}/announcements"},
        ],
        parameters=[
            {"name": "target", "type": "choice", "choices": ["staging", "production"],
             "default": "staging"},
            {"name": "patch", "type": "integer", "default": 7},
        ],
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        on_release = await trigger(stack, pipeline, ref="refs/heads/release/1.2",
                                   target="production")  # fmt: skip
        on_main = await trigger(stack, pipeline, ref="refs/heads/main", target="production")
        to_staging = await trigger(stack, pipeline, ref="refs/heads/release/1.2", patch=8)
        for run_id in (on_release, on_main, to_staging):
            ended = await stack.finished(run_id)
            failures = [d for _, t, d in await stack.events(run_id) if t == "StepFailed"]
            assert ended == "RunSucceeded", [(f["step"], f["reason"]) for f in failures]

    assert (shared / "deploys").read_text() == "deployed\n"
    # `announce` follows a skipped deploy with !failure(): a skip is no failure.
    assert (shared / "announcements").read_text() == "announced\nannounced\n"
    release = await stack.events(on_release)
    assert set(by_step(release, "StepSucceeded")) == {"build", "deploy", "announce"}
    main = by_step(await stack.events(on_main), "StepSkipped")
    assert main["deploy"]["reason"] == f"if: {deploy_if} evaluated to false"
    assert set(main) == {"deploy"}
    staging = by_step(await stack.events(to_staging), "StepSkipped")
    assert set(staging) == {"deploy", "announce"}
    assert staging["announce"]["reason"] == (
        "if: steps.build.outputs.version == '1.2.7' && !failure() evaluated to false"
    )


async def test_invalid_conditions_are_refused_with_their_position(stack: Stack) -> None:
    project = await stack.http.post(
        "/api/v1/projects", json={"name": "conditions", "slug": unique_id("c-")[:40]},
        headers=stack.admin,
    )  # fmt: skip
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    cases = [
        ({"name": "a", "run": "true", "if": "params.x == "}, "steps[0].if", "at character 13"),
        ({"name": "a", "run": "true", "if": "secrets.token"}, "steps[0].if",
         "unknown name 'secrets'"),
        ({"name": "a", "run": "true", "if": "${{ contains(branch) }}"}, "steps[0].if",
         "at character 5"),
        ({"name": "a", "run": "true", "if": "steps.b.outcome == 'success'"}, "steps[0].if",
         "reads steps.b, which 'a' does not need"),
        ({"name": "a", "run": "true", "if": 3}, None, None),
    ]  # fmt: skip
    for step, field, words in cases:
        body = {"project_id": project_id, "name": "refused", "steps": [step, {
            "name": "b", "run": "true", "needs": ["a"]}]}  # fmt: skip
        answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert answer.headers["content-type"].startswith("application/problem+json")
        if words is not None:
            assert field in answer.text and words in answer.text, problem
