"""Helpers of the artifact, cache and workspace tests: listing, keys, the CLI."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from tests.helpers import unique_id
from tests.integration.runner.stack import WAIT_S, Stack


async def listed(stack: Stack, run_id: str, count: int) -> list[dict[str, Any]]:
    """The run's artifacts as the API lists them, once `count` are there."""
    async with asyncio.timeout(WAIT_S):
        while True:
            answer = await stack.http.get(
                f"/api/v1/pipeline-runs/{run_id}/artifacts", headers=stack.admin
            )
            assert answer.status_code == 200, answer.text
            items: list[dict[str, Any]] = answer.json()["items"]
            if len(items) >= count:
                return items
            await asyncio.sleep(0.05)


async def project_key(stack: Stack, scopes: list[str]) -> dict[str, str]:
    """A key of a new project of its own (it sees nothing of the test's pipelines)."""
    answer = await stack.http.post(
        "/api/v1/projects",
        json={"name": "elsewhere", "slug": unique_id("o-")[:40]},
        headers=stack.admin,
    )
    assert answer.status_code == 201, answer.text
    body = {"name": unique_id("k-")[:40], "scopes": scopes, "project_id": answer.json()["id"]}
    answer = await stack.http.post("/api/v1/api-keys", json=body, headers=stack.admin)
    assert answer.status_code == 201, answer.text
    return {"X-API-Key": answer.json()["secret"]}


async def cli(stack: Stack, *args: str, cwd: str) -> tuple[int, str, str]:
    """`flowledger <args>` as a real process against the stack's API with the admin key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")}
    env |= {"FLOWLEDGER_API_URL": stack.api_url, "FLOWLEDGER_API_KEY": stack.admin["X-API-Key"]}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli.main", *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), WAIT_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def succeeded(stack: Stack, run_id: str) -> bool:
    """Wait for the run to end; whether it succeeded (else AssertionError with its failures)."""
    outcome = await stack.finished(run_id)
    if outcome == "RunSucceeded":
        return True
    events = await stack.events(run_id)
    notes = [
        f"{t} {d.get('step')}: {d.get('reason') or d.get('text', '').strip()}"
        for _, t, d in events
        if t in ("StepFailed", "StepSkipped")
        or (t == "LogChunkAppended" and d["stream"] == "system")
    ]
    raise AssertionError(f"{outcome}: " + " | ".join(notes))
