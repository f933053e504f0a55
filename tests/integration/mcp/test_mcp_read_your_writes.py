"""MCP tools read their caller's own writes too: a run triggered by a tool is there for the
next tool call of the same caller (here a JWT subject), with no `min_position` given."""

from __future__ import annotations

from typing import Any

from tests.integration.mcp.mcping import Api, mcp_session, ok
from tests.integration.mcp.test_mcp_access import bearer


async def test_a_triggered_run_is_read_at_once_without_min_position(
    base_url: str, admin: dict[str, str]
) -> None:
    api = Api(base_url)
    project = await api.project(admin)
    pipeline = await api.pipeline(admin, project)
    headers = bearer(scopes=["read", "write"], project=project, name="ryw-bot", sub="ryw-bot")
    async with mcp_session(base_url, headers) as session:
        for target in ("a", "b", "c"):
            answer: dict[str, Any] = await ok(
                session, "trigger_run", pipeline_id=pipeline, parameters={"target": target}
            )

            run = await ok(session, "get_run", run_id=answer["id"])

            assert (run["id"], run["actor"]) == (answer["id"], "ryw-bot")
