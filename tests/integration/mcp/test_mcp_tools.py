"""The MCP tools over real HTTP with the SDK's client: the same answers as the HTTP API."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest_asyncio

from tests.helpers import unique_id
from tests.integration.mcp.mcping import Api, mcp_session, ok, refused, stateless_client

READ_TOOLS = {
    "list_pipelines",
    "describe_pipeline",
    "get_run",
    "read_run_logs",
    "list_recent_failures",
    "list_pending_approvals",
    "list_secrets",
    "ai_usage",
    "step_errors",
    "list_notification_rules",
    "list_run_artifacts",
}
WRITE_TOOLS = {"trigger_run", "cancel_run", "decide_approval"}


@pytest_asyncio.fixture(scope="module")
async def world(base_url: str, admin: dict[str, str], keys: Any) -> dict[str, Any]:
    api = Api(base_url)
    project = await api.project(admin)
    name = unique_id("deploy-")
    pipeline = await api.pipeline(admin, project, name=name, tags=["mcp", "deploy"])
    agent = await keys.make("read", "write", project_id=UUID(project), name="agent")
    runner = await keys.make("runner", project_id=UUID(project), name="runner")
    return {
        "api": api,
        "project": project,
        "pipeline": pipeline,
        "name": name,
        "agent": agent,
        "runner": runner,
    }


async def test_it_lists_its_tools_with_schemas_and_hints(base_url, world) -> None:
    async with mcp_session(base_url, world["agent"]) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(tools) == READ_TOOLS | WRITE_TOOLS
    for tool in tools.values():
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        assert tool.description
    assert all(tools[name].annotations.read_only_hint for name in READ_TOOLS)
    assert not any(tools[name].annotations.read_only_hint for name in WRITE_TOOLS)
    assert tools["cancel_run"].annotations.destructive_hint
    assert tools["trigger_run"].input_schema["required"] == ["pipeline_id"]


async def test_a_triggered_run_reads_back_as_the_http_api_shows_it(base_url, world) -> None:
    agent, api = world["agent"], world["api"]
    async with mcp_session(base_url, agent) as session:
        answer = await ok(
            session,
            "trigger_run",
            pipeline_id=world["pipeline"],
            parameters={"target": "staging", "shards": 3},
            ref="refs/heads/main",
        )
        run = await ok(session, "get_run", run_id=answer["id"], min_position=answer["position"])

    assert answer["version"] == 1 and answer["position"] > 0
    assert run["id"] == answer["id"]
    assert run["status"] == "queued"
    assert run["trigger_kind"] == "api" and run["actor"] == "agent"
    assert run["parameters"] == {"target": "staging", "shards": 3}
    assert run["branch"] == "main"
    assert [step["name"] for step in run["steps"]] == ["build", "test"]
    assert run == await api.get(agent, f"/api/v1/pipeline-runs/{answer['id']}")


async def test_it_lists_and_describes_pipelines(base_url, world) -> None:
    agent, api, pipeline = world["agent"], world["api"], world["pipeline"]
    head = await api.head(agent)
    async with mcp_session(base_url, agent) as session:
        page = await ok(session, "list_pipelines", name=world["name"], tags=["mcp"], limit=5)
        none = await ok(session, "list_pipelines", name=world["name"], tags=["not-a-tag"])
        described = await ok(session, "describe_pipeline", pipeline_id=pipeline, min_position=head)

    assert [item["id"] for item in page["items"]] == [pipeline]
    assert page["limit"] == 5 and page["next_cursor"] is None and page["position"] > 0
    assert none["items"] == []
    parameters = described["definition"]["parameters"]
    assert [p["name"] for p in parameters] == ["target", "shards"]
    assert [s["name"] for s in described["definition"]["steps"]] == ["build", "test"]
    over_http = await api.get(agent, f"/api/v1/pipelines/{pipeline}", min_position=head)
    assert described == over_http


async def test_it_reads_a_runs_logs_by_tail_and_by_search(base_url, world) -> None:
    agent, api = world["agent"], world["api"]
    async with mcp_session(base_url, agent) as session:
        run = (
            await ok(
                session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "a"}
            )
        )["id"]
        await api.step(world["runner"], run, step="build", status="running")
        lines = ["compiling", "linking", "ERROR: missing symbol", "retrying", "Error again"]
        chunks = [{"seq": i, "text": t, "step": "build"} for i, t in enumerate(lines, 1)]
        last = await api.logs(world["runner"], run, *chunks)

        tail = await ok(session, "read_run_logs", run_id=run, tail=2, min_position=last)
        found = await ok(session, "read_run_logs", run_id=run, search="error", min_position=last)
        paged = await ok(session, "read_run_logs", run_id=run, step="build", limit=2)
        rest = await ok(session, "read_run_logs", run_id=run, step="build", after_seq=2, limit=10)

    assert [c["text"] for c in tail["items"]] == ["retrying", "Error again"]
    assert [c["text"] for c in found["items"]] == ["ERROR: missing symbol", "Error again"]
    assert [c["seq"] for c in paged["items"]] == [1, 2] and paged["more"] is True
    assert [c["seq"] for c in rest["items"]] == [3, 4, 5] and rest["more"] is False
    over_http = await api.get(agent, f"/api/v1/pipeline-runs/{run}/logs", q="error")
    assert found["items"] == over_http["items"]


async def test_it_cancels_a_queued_run_and_a_running_one(base_url, world) -> None:
    agent, api = world["agent"], world["api"]
    async with mcp_session(base_url, agent) as session:
        queued = await ok(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "q"}
        )
        running = await ok(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "r"}
        )
        await api.step(world["runner"], running["id"], step="build", status="running")

        stopped = await ok(session, "cancel_run", run_id=queued["id"], reason="not needed")
        stopping = await ok(session, "cancel_run", run_id=running["id"])
        first = await ok(session, "get_run", run_id=queued["id"], min_position=stopped["position"])
        second = await ok(
            session, "get_run", run_id=running["id"], min_position=stopping["position"]
        )

    assert first["status"] == "cancelled"
    assert first["cancel_requested_by"] == "agent" and first["cancel_reason"] == "not needed"
    assert second["status"] == "cancelling"


async def test_it_lists_recent_failures_newest_first(base_url, world) -> None:
    agent, api, runner = world["agent"], world["api"], world["runner"]
    async with mcp_session(base_url, agent) as session:
        ids = []
        for target in ("one", "two"):
            run = await ok(
                session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": target}
            )
            await api.step(runner, run["id"], step="build", status="running")
            last = await api.step(
                runner, run["id"], step="build", status="failed", exit_code=2, reason="exit 2"
            )
            ids.append(run["id"])
        fine = await ok(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "ok"}
        )

        failures = await ok(
            session,
            "list_recent_failures",
            pipeline_id=world["pipeline"],
            since="2000-01-01T00:00:00Z",
            min_position=last,
        )
        one = await ok(session, "list_recent_failures", pipeline_id=world["pipeline"], limit=1)

    assert [run["id"] for run in failures["items"]] == ids[::-1]
    assert fine["id"] not in {run["id"] for run in failures["items"]}
    assert {run["failed_step"] for run in failures["items"]} == {"build"}
    assert all(run["status"] == "failed" and run["failure_reason"] for run in failures["items"])
    assert [run["id"] for run in one["items"]] == [ids[1]] and one["next_cursor"]


async def test_the_stateless_revision_answers_with_the_same_tools(base_url, world, keys) -> None:
    reader = await keys.make("read", project_id=UUID(world["project"]), name="reader")
    async with stateless_client(base_url, world["agent"]) as client:
        assert client.protocol_version == "2026-07-28"
        answer = await ok(
            client, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "s"}
        )
        run = await ok(client, "get_run", run_id=answer["id"], min_position=answer["position"])
    async with stateless_client(base_url, reader) as client:
        denied = await refused(client, "cancel_run", run_id=answer["id"])

    assert run["id"] == answer["id"] and run["actor"] == "agent"
    assert denied["code"] == "forbidden"


async def test_usage_and_errors_answer_as_the_http_api_does(base_url, world) -> None:
    agent, api = world["agent"], world["api"]
    async with mcp_session(base_url, agent) as session:
        usage = await ok(session, "ai_usage", project_id=world["project"], days=7)
        errors = await ok(session, "step_errors", days=7)

    over_http = await api.get(agent, "/api/v1/analytics/usage", days=7)
    assert usage["items"] == over_http["items"]
    assert isinstance(errors["items"], list) and errors["position"] >= 0
