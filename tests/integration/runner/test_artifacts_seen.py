"""Artifacts where users look (issue 18, item 4): the run view lists each with its step,
size, sha256, retention and download route; the MCP tools list them the same way; another
project's caller sees neither."""

from __future__ import annotations

from typing import Any

from tests.integration.mcp.mcping import mcp_session, ok, refused
from tests.integration.runner.files_support import listed, project_key, succeeded
from tests.integration.runner.stack import Stack, runners

MAKE = "mkdir -p out && head -c 12345 /dev/urandom > out/a.bin && echo x > out/b.txt\n"


async def test_the_run_view_and_mcp_list_the_runs_artifacts(stack: Stack, label: str) -> None:
    pipeline = await stack.pipeline(
        [{"name": "single", "run": MAKE, "labels": [label], "artifacts": ["out/a.bin"],
          "artifact_retention_days": 3},
         {"name": "many", "run": MAKE, "labels": [label], "artifacts": ["out/*"]}]
    )  # fmt: skip
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
    stored = {i["name"]: i for i in await listed(stack, run_id, 2)}

    view = await stack.viewed(run_id, lambda r: len(r.get("artifacts", ())) == 2)
    seen = {a["name"]: a for a in view["artifacts"]}
    one = seen["single"]
    assert (one["step"], one["attempt"], one["format"], one["size"]) == ("single", 1, "file",
                                                                          12345)  # fmt: skip
    assert one["sha256"] == stored["single"]["sha256"]
    assert one["retention_days"] == 3 and seen["many"]["retention_days"] == 30
    assert one["deleted_at"] is None
    assert one["download_url"] == f"/api/v1/pipeline-runs/{run_id}/artifacts/single"
    assert view["artifacts_url"] == f"/api/v1/pipeline-runs/{run_id}/artifacts"
    got = await stack.http.get(one["download_url"], headers=stack.admin)
    assert got.status_code == 200 and len(got.content) == 12345
    assert seen["many"]["format"] == "tar"

    async with mcp_session(stack.api_url, stack.admin) as session:
        tool = await ok(session, "list_run_artifacts", run_id=run_id)
        run = await ok(session, "get_run", run_id=run_id)
        unknown = await refused(
            session, "list_run_artifacts", run_id="00000000-0000-4000-8000-000000000000"
        )
    assert tool["items"] == view["artifacts"] and tool["run_id"] == run_id
    assert run["artifacts"] == view["artifacts"]
    assert unknown["status"] == 404

    stranger = await project_key(stack, ["read"])
    async with mcp_session(stack.api_url, stranger) as session:
        hidden: dict[str, Any] = await refused(session, "list_run_artifacts", run_id=run_id)
    assert hidden["status"] == 404
    answer = await stack.http.get(f"/api/v1/pipeline-runs/{run_id}", headers=stranger)
    assert answer.status_code == 404


async def test_a_run_without_artifacts_shows_an_empty_list(stack: Stack, label: str) -> None:
    pipeline = await stack.pipeline([{"name": "plain", "run": "true", "labels": [label]}])
    async with runners(stack.runner_config(label)):
        run_id = await stack.trigger(pipeline)
        assert await succeeded(stack, run_id)
    view = await stack.viewed(run_id, lambda r: r["status"] == "succeeded")
    assert view["artifacts"] == []
    async with mcp_session(stack.api_url, stack.admin) as session:
        assert (await ok(session, "list_run_artifacts", run_id=run_id))["items"] == []
