"""Approver groups end to end: set through the API and the CLI (a real subprocess), checked
when a person decides (not when the gate opened), the decision naming the group; a real
runner runs the step the approval lets through."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest_asyncio

from tests.integration.runner.stack import Stack, runners
from tests.integration.runner.test_approvals import (
    decide,
    key,
    of_type,
    pending,
    pipeline,
    project,
    trigger,
)


async def set_group(stack: Stack, project_id: str, name: str, members: list[str], **h: str) -> Any:
    return await stack.http.put(
        f"/api/v1/projects/{project_id}/approver-groups/{name}",
        json={"members": members},
        headers=h or stack.admin,
    )


async def cli(stack: Stack, *args: str) -> tuple[int, str, str]:
    """`flowledger approver-groups ...` as a user runs it, against the stack's API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", "approver-groups", *args,
        "--api", str(stack.http.base_url).rstrip("/"), "--token", stack.admin["X-API-Key"],
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest_asyncio.fixture
async def keys_and_project(stack: Stack) -> dict[str, Any]:
    project_id = await project(stack)
    alice, alice_h = await key(stack, project_id, "approve", "read")
    bob, bob_h = await key(stack, project_id, "approve", "read")
    return {"project": project_id, "alice": (alice, alice_h), "bob": (bob, bob_h)}


async def test_a_group_admits_whoever_it_holds_when_they_decide(
    stack: Stack, label: str, keys_and_project: dict[str, Any]
) -> None:
    project_id = keys_and_project["project"]
    alice, alice_h = keys_and_project["alice"]
    bob, bob_h = keys_and_project["bob"]
    code, out, err = await cli(stack, "set", project_id, "release", "--member", alice)
    assert code == 0, err
    assert "release set: 1 member(s)" in out
    pipeline_id = await pipeline(
        stack,
        project_id,
        [
            {"name": "ask", "kind": "approval", "prompt": "Ship?", "approvers": ["group:release"]},
            {"name": "deploy", "run": "echo shipped", "labels": [label]},
        ],
    )
    async with runners(stack.runner_config(label)):
        run_id = await trigger(stack, pipeline_id)
        [waiting] = await pending(stack, run_id, alice_h)
        assert waiting["approvers"] == ["group:release"]

        refused = await decide(stack, run_id, "ask", bob_h, decision="approve")
        assert refused.status_code == 403, refused.text
        # The gate is already open: moving the group to bob takes effect at the decision.
        moved = await set_group(stack, project_id, "release", [bob])
        assert moved.status_code == 202, moved.text
        gone = await decide(stack, run_id, "ask", alice_h, decision="approve")
        assert gone.status_code == 403, gone.text
        answer = await decide(stack, run_id, "ask", bob_h, decision="approve", comment="ok")
        assert answer.status_code == 202, answer.text
        assert await stack.finished(run_id) == "RunSucceeded"

    [decided] = of_type(await stack.events(run_id), "ApprovalDecided")
    assert (decided["principal"], decided["group"], decided["decision"]) == (
        bob,
        "release",
        "approve",
    )


async def test_a_listed_key_decides_without_a_group_and_unknown_groups_admit_nobody(
    stack: Stack, keys_and_project: dict[str, Any]
) -> None:
    project_id = keys_and_project["project"]
    alice, alice_h = keys_and_project["alice"]
    _, bob_h = keys_and_project["bob"]
    pipeline_id = await pipeline(
        stack,
        project_id,
        [{"name": "ask", "kind": "approval", "approvers": ["group:nobody-yet", alice]}],
    )
    run_id = await trigger(stack, pipeline_id)
    await pending(stack, run_id, alice_h)
    refused = await decide(stack, run_id, "ask", bob_h, decision="approve")
    assert refused.status_code == 403, refused.text
    answer = await decide(stack, run_id, "ask", alice_h, decision="approve")
    assert answer.status_code == 202, answer.text
    assert await stack.finished(run_id) == "RunSucceeded"
    [decided] = of_type(await stack.events(run_id), "ApprovalDecided")
    assert decided["group"] is None


async def test_setting_a_group_is_checked(stack: Stack, keys_and_project: dict[str, Any]) -> None:
    project_id = keys_and_project["project"]
    alice, alice_h = keys_and_project["alice"]
    same = await set_group(stack, project_id, "ops", [alice])
    again = await set_group(stack, project_id, "ops", [alice])
    assert (same.status_code, again.status_code) == (202, 202)
    assert "position" not in again.json() or again.json()["position"] is None  # nothing new
    for members, name in (
        (["alice"], "ops"),
        ([alice, alice], "ops"),
        (["group:ops"], "ops"),
        ([alice], "no spaces"),
    ):
        answer = await set_group(stack, project_id, name, members)
        assert answer.status_code in (404, 422), (members, name, answer.text)
    refused = await set_group(stack, project_id, "ops", [alice], **alice_h)
    assert refused.status_code == 403, refused.text
    bad_step = await stack.http.post(
        "/api/v1/pipelines",
        json={"project_id": project_id, "name": "x",
              "steps": [{"name": "a", "kind": "approval", "approvers": ["group:"]}]},
        headers=stack.admin,
    )  # fmt: skip
    assert bad_step.status_code == 422 and "approvers" in bad_step.text
    code, _, err = await cli(stack, "set", project_id, "ops", "--member", "nobody")
    assert code == 5 and "members" in err
