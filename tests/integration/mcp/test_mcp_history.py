"""The run history resource: a run's events from the event store, as the audit route has them."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio
from mcp import MCPError
from mcp_types import INVALID_PARAMS

from tests.integration.mcp.mcping import Api, mcp_session, ok

TEMPLATE = "flowledger://runs/{run_id}/history"


@pytest_asyncio.fixture(scope="module")
async def world(base_url: str, admin: dict[str, str], keys: Any) -> dict[str, Any]:
    api = Api(base_url)
    project, other = await api.project(admin), await api.project(admin)
    pipeline = await api.pipeline(admin, project)
    return {
        "api": api,
        "pipeline": pipeline,
        "agent": await keys.make("read", "write", project_id=UUID(project), name="agent"),
        "outsider": await keys.make("read", project_id=UUID(other), name="outsider"),
    }


def history_uri(run_id: str) -> str:
    return TEMPLATE.format(run_id=run_id)


async def test_the_template_is_listed(base_url, world) -> None:
    async with mcp_session(base_url, world["agent"]) as session:
        templates = (await session.list_resource_templates()).resource_templates

    assert [(t.uri_template, t.mime_type) for t in templates] == [(TEMPLATE, "application/json")]


async def test_a_runs_history_is_every_event_in_order(base_url, world) -> None:
    agent = world["agent"]
    async with mcp_session(base_url, agent) as session:
        run = await ok(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "x"}
        )
        await ok(session, "cancel_run", run_id=run["id"], reason="enough")
        read = await session.read_resource(history_uri(run["id"]))

    (content,) = read.contents
    assert content.mime_type == "application/json"
    events = json.loads(content.text)
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "RunRequested" and events[-1]["type"] == "RunCancelled"
    assert {e["stream_id"] for e in events} == {run["id"]}
    assert {e["metadata"]["actor"] for e in events} == {"agent"}
    over_http = await world["api"].get(agent, f"/api/v1/pipeline-runs/{run['id']}/history")
    assert events == over_http["items"]


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        (history_uri(str(uuid.uuid4())), "no run with id"),
        (history_uri("not-a-uuid"), "is not a run id"),
        ("flowledger://runs/", "unknown resource"),
    ],
)
async def test_unknown_runs_and_uris_are_invalid_params(base_url, world, uri, says) -> None:
    async with mcp_session(base_url, world["agent"]) as session:
        with pytest.raises(MCPError) as raised:
            await session.read_resource(uri)

    assert raised.value.code == INVALID_PARAMS
    assert says in raised.value.message


async def test_another_projects_key_is_told_no_such_run(base_url, world) -> None:
    async with mcp_session(base_url, world["agent"]) as session:
        run = await ok(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "x"}
        )
    async with mcp_session(base_url, world["outsider"]) as session:
        with pytest.raises(MCPError) as raised:
            await session.read_resource(history_uri(run["id"]))

    assert raised.value.code == INVALID_PARAMS
    assert raised.value.data["status"] == 404
