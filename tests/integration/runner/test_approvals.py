"""Approvals and environments end to end: the real API over HTTP, projector, dispatcher, the
approval sweeper and real runners running real steps."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from websockets.asyncio.client import connect

from adapters.dispatch.approval_sweeper import ApprovalSweeper
from tests.helpers import unique_id
from tests.integration.mcp.mcping import mcp_session, ok, refused
from tests.integration.runner.stack import WAIT_S, Stack, runners


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sweeper(stack: Stack) -> AsyncIterator[None]:
    """The dispatcher's approval sweeper, as `flowledger dispatcher` runs it."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        ApprovalSweeper(stack.services.bus.dispatch, stack.pool, every_s=0.2).run(stop)
    )
    yield
    stop.set()
    await asyncio.wait_for(task, WAIT_S)


async def project(stack: Stack) -> str:
    answer = await stack.http.post(
        "/api/v1/projects",
        json={"name": "approvals", "slug": unique_id("a-")[:40]},
        headers=stack.admin,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def key(stack: Stack, project_id: str | None, *scopes: str) -> tuple[str, dict[str, str]]:
    """A new API key: its principal (`key:<id>`) and the header that sends it."""
    body = {"name": unique_id("k-")[:40], "scopes": list(scopes), "project_id": project_id}
    answer = await stack.http.post("/api/v1/api-keys", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text
    return f"key:{answer.json()['id']}", {"X-API-Key": answer.json()["secret"]}


async def pipeline(stack: Stack, project_id: str, steps: list[dict[str, Any]]) -> str:
    body = {"project_id": project_id, "name": unique_id("p-")[:40], "steps": steps}
    answer = await stack.http.post("/api/v1/pipelines", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def trigger(stack: Stack, pipeline_id: str, **fields: Any) -> str:
    answer = await stack.http.post(
        f"/api/v1/pipelines/{pipeline_id}/runs", json=fields, headers=stack.admin
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def decide(stack: Stack, run_id: str, step: str, headers: dict[str, str], **body: Any) -> Any:
    return await stack.http.post(
        f"/api/v1/pipeline-runs/{run_id}/approvals/{step}", json=body, headers=headers
    )


async def pending(stack: Stack, run_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The run's waiting steps, once the approvals view lists one."""
    async with asyncio.timeout(WAIT_S):
        while True:
            answer = await stack.http.get(
                "/api/v1/approvals", params={"run_id": run_id}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            if items := answer.json()["items"]:
                return list(items)
            await asyncio.sleep(0.05)


def of_type(events: list[tuple[int, str, dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    return [data for _, t, data in events if t == kind]


async def test_an_approver_key_approves_others_are_refused_and_inputs_reach_the_next_step(
    stack: Stack, sweeper: None, label: str
) -> None:
    project_id = await project(stack)
    approver, approver_headers = await key(stack, project_id, "approve", "read")
    _, other_headers = await key(stack, project_id, "approve")
    _, writer_headers = await key(stack, project_id, "read", "write")
    seen = "$FLOWLEDGER_OUTPUT_ask_version/$FLOWLEDGER_OUTPUT_ask_canary"
    show = f'echo "seen={seen}" >> "$FLOWLEDGER_OUTPUTS"'
    pipeline_id = await pipeline(
        stack,
        project_id,
        [
            {
                "name": "ask",
                "kind": "approval",
                "prompt": "Ship it?",
                "approvers": [approver],
                "inputs": [
                    {"name": "version", "type": "string", "required": True},
                    {"name": "canary", "type": "boolean", "default": False},
                ],
            },
            {"name": "deploy", "run": show, "labels": [label]},
        ],
    )
    async with runners(stack.runner_config(label)):
        run_id = await trigger(stack, pipeline_id)
        [waiting] = await pending(stack, run_id, other_headers)
        assert waiting["step"] == "ask" and waiting["prompt"] == "Ship it?"
        assert waiting["approvers"] == [approver]
        run = await stack.viewed(run_id, lambda r: r["status"] == "waiting_for_approval")
        assert {s["name"]: s["status"] for s in run["steps"]}["ask"] == "waiting_for_approval"

        approve = {"decision": "approve", "comment": "go", "inputs": {"version": "1.2.3"}}
        refused = await decide(stack, run_id, "ask", writer_headers, **approve)
        assert refused.status_code == 403, refused.text  # no approve scope
        refused = await decide(stack, run_id, "ask", other_headers, **approve)
        assert refused.status_code == 403, refused.text  # not among the approvers
        assert "not one of the approvers" in refused.json()["detail"]
        wrong = {**approve, "inputs": {"version": "1", "canary": "yes"}}
        answer = await decide(stack, run_id, "ask", approver_headers, **wrong)
        assert answer.status_code == 422, answer.text
        missing = {"decision": "approve"}
        answer = await decide(stack, run_id, "ask", approver_headers, **missing)
        assert answer.status_code == 422 and "inputs.version" in answer.text

        given = {**approve, "inputs": {"version": "1.2.3", "canary": True}}
        answer = await decide(stack, run_id, "ask", approver_headers, **given)
        assert answer.status_code == 202, answer.text
        again = await decide(stack, run_id, "ask", approver_headers, **given)
        assert again.status_code == 409, again.text
        assert await stack.finished(run_id) == "RunSucceeded"

    events = await stack.events(run_id)
    [decided] = of_type(events, "ApprovalDecided")
    assert decided["principal"] == approver and decided["decision"] == "approve"
    assert decided["comment"] == "go"
    assert decided["inputs"] == {"version": "1.2.3", "canary": "true"}
    ran = {d["step"]: d for d in of_type(events, "StepSucceeded")}
    assert ran["ask"]["outputs"] == {"version": "1.2.3", "canary": "true"}
    assert ran["deploy"]["outputs"] == {"seen": "1.2.3/true"}
    assert await pending_now(stack, run_id) == []


async def pending_now(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    answer = await stack.http.get(
        "/api/v1/approvals",
        params={"run_id": run_id},
        headers={**stack.admin, "X-Min-Position": str(await head(stack))},
    )
    return list(answer.json()["items"])


async def head(stack: Stack) -> int:
    return int(await stack.pool.fetchval("SELECT coalesce(max(position), 0) FROM events"))


async def test_a_rejection_ends_the_run_and_skips_what_follows(
    stack: Stack, sweeper: None, label: str
) -> None:
    project_id = await project(stack)
    _, approver = await key(stack, project_id, "approve")
    pipeline_id = await pipeline(
        stack,
        project_id,
        [
            {"name": "gate", "kind": "approval", "prompt": "Release?"},
            {"name": "release", "run": "echo never", "labels": [label]},
        ],
    )
    run_id = await trigger(stack, pipeline_id)
    await pending(stack, run_id, approver)
    answer = await decide(stack, run_id, "gate", approver, decision="reject", comment="not today")
    assert answer.status_code == 202, answer.text
    assert await stack.finished(run_id) == "RunFailed"
    run = await stack.viewed(run_id, lambda r: r["status"] == "failed")
    steps = {s["name"]: s for s in run["steps"]}
    assert steps["gate"]["status"] == "failed"
    assert steps["gate"]["reason"].endswith(": not today")
    assert steps["release"]["status"] == "skipped"
    [decided] = of_type(await stack.events(run_id), "ApprovalDecided")
    assert decided["decision"] == "reject" and decided["comment"] == "not today"

    # The run's WebSocket stream carries the request and the decision like any run event.
    _, watcher = await key(stack, project_id, "read")
    url = f"{stack.api_url.replace('http', 'ws', 1)}/ws/runs/{run_id}"
    async with connect(f"{url}?token={watcher['X-API-Key']}&after=0") as ws:
        seen: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(WAIT_S):
            while "RunFailed" not in seen:
                message = json.loads(await ws.recv())
                seen[message.get("type", "")] = message
    assert seen["ApprovalRequested"]["data"]["prompt"] == "Release?"
    assert seen["ApprovalDecided"]["data"]["comment"] == "not today"


async def test_a_gate_left_undecided_takes_its_default_outcome(
    stack: Stack, sweeper: None, label: str
) -> None:
    project_id = await project(stack)
    show = 'echo "mode=$FLOWLEDGER_OUTPUT_wait_mode" >> "$FLOWLEDGER_OUTPUTS"'
    steps = [
        {
            "name": "wait",
            "kind": "approval",
            "timeout_s": 1,
            "on_timeout": "approve",
            "inputs": [
                {"name": "mode", "type": "choice", "choices": ["auto", "manual"], "default": "auto"}
            ],
        },
        {"name": "after", "run": show, "labels": [label]},
    ]
    approving = await pipeline(stack, project_id, steps)
    rejecting = await pipeline(stack, project_id, [{**steps[0], "on_timeout": "reject"}, steps[1]])
    async with runners(stack.runner_config(label)):
        approved, rejected = await trigger(stack, approving), await trigger(stack, rejecting)
        assert await stack.finished(approved) == "RunSucceeded"
        assert await stack.finished(rejected) == "RunFailed"
    for run_id, outcome in ((approved, "approve"), (rejected, "reject")):
        events = await stack.events(run_id)
        [decided] = of_type(events, "ApprovalDecided")
        assert decided["decision"] == outcome and decided["timed_out"] is True
        assert decided["principal"] == "system:approval-timeout"
    ran = {d["step"]: d for d in of_type(await stack.events(approved), "StepSucceeded")}
    assert ran["after"]["outputs"] == {"mode": "auto"}


async def test_a_protected_environment_refuses_other_branches_and_waits_for_its_approvers(
    stack: Stack, sweeper: None, label: str
) -> None:
    project_id = await project(stack)
    approver, approver_headers = await key(stack, project_id, "approve")
    _, writer = await key(stack, project_id, "read", "write")
    rules = {"required_approvals": 1, "approvers": [approver], "branches": ["main"]}
    url = f"/api/v1/projects/{project_id}/environments/production"
    assert (await stack.http.put(url, json=rules, headers=writer)).status_code == 403
    bad = {**rules, "branches": ["refs/heads/main"]}
    answer = await stack.http.put(url, json=bad, headers=stack.admin)
    assert answer.status_code == 422 and "short name" in answer.text
    too_many = {**rules, "required_approvals": 2}
    assert (await stack.http.put(url, json=too_many, headers=stack.admin)).status_code == 422
    answer = await stack.http.put(url, json=rules, headers=stack.admin)
    assert answer.status_code == 202, answer.text
    again = await stack.http.put(url, json=rules, headers=stack.admin)
    assert again.status_code == 202 and again.json()["version"] == answer.json()["version"]

    pipeline_id = await pipeline(
        stack,
        project_id,
        [
            {"name": "build", "run": "echo built", "labels": [label]},
            {"name": "ship", "run": "echo shipped", "environment": "production", "labels": [label]},
        ],
    )
    async with runners(stack.runner_config(label)):
        feature = await trigger(stack, pipeline_id, ref="refs/heads/feature/x", sha="f" * 40)
        assert await stack.finished(feature) == "RunFailed"
        main = await trigger(stack, pipeline_id, ref="refs/heads/main", sha="a" * 40)
        [waiting] = await pending(stack, main, approver_headers)
        assert waiting["step"] == "ship" and waiting["environment"] == "production"
        answer = await decide(stack, main, "ship", approver_headers, decision="approve")
        assert answer.status_code == 202, answer.text
        assert await stack.finished(main) == "RunSucceeded"

    [refused] = of_type(await stack.events(feature), "StepFailed")
    assert refused["step"] == "ship"
    assert "'refs/heads/feature/x' may not deploy to environment 'production'" in refused["reason"]
    assert not of_type(await stack.events(feature), "StepStarted")[1:]  # only build ran

    history = await stack.http.get(
        f"{url}/deployments", headers={**stack.admin, "X-Min-Position": str(await head(stack))}
    )
    assert history.status_code == 200, history.text
    body = history.json()
    assert body["environment"]["branches"] == ["main"]
    rows = [(r["run_id"], r["sha"], r["status"], r["approved_by"]) for r in body["items"]]
    approver_name = (await stack.http.get("/api/v1/api-keys", headers=stack.admin)).json()
    names = {f"key:{k['id']}": k["name"] for k in approver_name["items"]}
    assert rows == [
        (main, "a" * 40, "succeeded", [names[approver]]),
        (feature, "f" * 40, "failed", []),
    ]
    assert body["items"][0]["finished_at"] is not None
    assert "may not deploy" in body["items"][1]["reason"]


async def test_deciding_refuses_unknown_runs_and_steps_steps_not_waiting_and_other_projects(
    stack: Stack, sweeper: None, label: str
) -> None:
    project_id, elsewhere = await project(stack), await project(stack)
    _, approver = await key(stack, project_id, "approve")
    _, stranger = await key(stack, elsewhere, "approve", "read")
    pipeline_id = await pipeline(
        stack,
        project_id,
        [{"name": "gate", "kind": "approval"}, {"name": "work", "run": "true", "labels": [label]}],
    )
    run_id = await trigger(stack, pipeline_id)
    await pending(stack, run_id, approver)
    approve = {"decision": "approve"}
    unknown_run = "00000000-0000-4000-8000-000000000000"
    answer = await decide(stack, unknown_run, "gate", approver, **approve)
    assert answer.status_code == 404, answer.text
    answer = await decide(stack, run_id, "nope", approver, **approve)
    assert answer.status_code == 422 and answer.json()["code"] == "unknown_step"
    answer = await decide(stack, run_id, "work", approver, **approve)
    assert answer.status_code == 409, answer.text  # pending, never waiting for anyone
    answer = await decide(stack, run_id, "gate", stranger, **approve)
    assert answer.status_code == 404, answer.text  # another project's run: not even seen
    listed = await stack.http.get(
        "/api/v1/approvals", params={"project_id": project_id}, headers=stranger
    )
    assert listed.status_code == 403
    for body in ({"decision": "maybe"}, {"decision": "approve", "extra": 1}, {"inputs": {}}):
        answer = await decide(stack, run_id, "gate", approver, **body)
        assert answer.status_code in (400, 422), answer.text
    other_env = f"/api/v1/projects/{elsewhere}/environments/production/deployments"
    assert (await stack.http.get(other_env, headers=approver)).status_code == 404
    # Two people decide at once: one decision is taken, the other is told it came too late.
    _, second = await key(stack, project_id, "approve")
    answers = await asyncio.gather(
        decide(stack, run_id, "gate", approver, **approve),
        decide(stack, run_id, "gate", second, decision="reject"),
    )
    assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
    assert len(of_type(await stack.events(run_id), "ApprovalDecided")) == 1
    await stack.http.post(f"/api/v1/pipeline-runs/{run_id}/cancel", headers=stack.admin)


async def test_mcp_lists_pending_approvals_and_decides_one_with_the_same_checks(
    stack: Stack, sweeper: None, label: str
) -> None:
    project_id = await project(stack)
    approver, approver_headers = await key(stack, project_id, "approve")
    _, reader = await key(stack, project_id, "read")
    pipeline_id = await pipeline(
        stack,
        project_id,
        [
            {
                "name": "ask",
                "kind": "approval",
                "prompt": "Go?",
                "approvers": [approver],
                "inputs": [{"name": "ticket", "type": "integer", "required": True}],
            },
        ],
    )
    run_id = await trigger(stack, pipeline_id)
    await pending(stack, run_id, approver_headers)
    async with mcp_session(stack.api_url, reader) as session:
        listed = await ok(session, "list_pending_approvals", run_id=run_id)
        assert [(i["step"], i["prompt"]) for i in listed["items"]] == [("ask", "Go?")]
        problem = await refused(
            session, "decide_approval", run_id=run_id, step="ask", decision="approve"
        )
        assert problem["status"] == 403
    async with mcp_session(stack.api_url, approver_headers) as session:
        problem = await refused(
            session,
            "decide_approval",
            run_id=run_id,
            step="ask",
            decision="approve",
            inputs={"ticket": "42"},
        )
        assert problem["status"] == 422
        answer = await ok(
            session,
            "decide_approval",
            run_id=run_id,
            step="ask",
            decision="approve",
            comment="via mcp",
            inputs={"ticket": 42},
        )
        assert answer["id"] == run_id
        problem = await refused(
            session, "decide_approval", run_id=run_id, step="ask", decision="reject"
        )
        assert problem["status"] == 409
    assert await stack.finished(run_id) == "RunSucceeded"
    [decided] = of_type(await stack.events(run_id), "ApprovalDecided")
    assert decided["comment"] == "via mcp" and decided["inputs"] == {"ticket": "42"}


async def test_a_step_deploying_to_an_environment_prefers_that_environments_secret(
    stack: Stack, sweeper: None, label: str
) -> None:
    project_id = await project(stack)
    secrets_url = f"/api/v1/projects/{project_id}/secrets/DEPLOY_TOKEN"
    for body in (
        {"value": "project-wide"},
        {"value": "production-only", "environment": "production"},
    ):
        answer = await stack.http.put(secrets_url, json=body, headers=stack.admin)
        assert answer.status_code == 200, answer.text
    # Hashes, not values: a step's outputs are masked where they hold a secret.
    show = (
        'echo "sha=$(printf %s "$DEPLOY_TOKEN" | sha256sum | cut -c1-16)" >> "$FLOWLEDGER_OUTPUTS"'
    )
    pipeline_id = await pipeline(
        stack,
        project_id,
        [
            {"name": "stage", "run": show, "labels": [label], "secrets": ["DEPLOY_TOKEN"]},
            {
                "name": "prod",
                "run": show,
                "labels": [label],
                "secrets": ["DEPLOY_TOKEN"],
                "environment": "production",
            },
        ],
    )
    async with runners(stack.runner_config(label)):
        run_id = await trigger(stack, pipeline_id, ref="refs/heads/main")
        assert await stack.finished(run_id) == "RunSucceeded"
    events = await stack.events(run_id)
    outputs = {d["step"]: d["outputs"]["sha"] for d in of_type(events, "StepSucceeded")}
    assert outputs == {
        "stage": hashlib.sha256(b"project-wide").hexdigest()[:16],
        "prod": hashlib.sha256(b"production-only").hexdigest()[:16],
    }
    used = {d["step"]: d["secrets"] for d in of_type(events, "StepSecretsReceived")}
    assert used["prod"][0]["environment"] == "production"
    assert used["stage"][0]["environment"] is None
