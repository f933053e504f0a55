"""Bad tool input: error results that say what was wrong, in words a model can act on."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import pytest_asyncio
from mcp import MCPError
from mcp_types import INVALID_PARAMS

from tests.integration.mcp.mcping import Api, mcp_session, ok, refused


@pytest_asyncio.fixture(scope="module")
async def world(base_url: str, admin: dict[str, str]) -> dict[str, Any]:
    api = Api(base_url)
    project = await api.project(admin)
    return {"pipeline": await api.pipeline(admin, project)}


@pytest.mark.parametrize(
    ("arguments", "code", "says"),
    [
        ({"parameters": {"nope": 1, "target": "x"}}, "invalid_value", "parameters.nope: unknown"),
        ({"parameters": {"target": "x", "shards": "many"}}, "invalid_value", "parameters.shards"),
        ({"parameters": {}}, "invalid_value", "parameters.target: required"),
        ({"parameters": {"target": ["x"]}}, "invalid_input", "$.parameters[...]"),
        ({"parameters": {"target": "x"}, "pipeline_version": 9}, "unknown_pipeline_version", "9"),
        ({"parameters": {"target": "x"}, "pipeline_version": 0}, "invalid_input", ">= 1"),
        ({"parameters": {"target": "x"}, "colour": "red"}, "invalid_input", "unknown field"),
    ],
)
async def test_trigger_run_says_which_argument_is_wrong(
    base_url, admin, world, arguments, code, says
) -> None:
    async with mcp_session(base_url, admin) as session:
        problem = await refused(session, "trigger_run", pipeline_id=world["pipeline"], **arguments)

    assert problem["code"] == code
    assert says in problem["detail"]


async def test_unknown_and_malformed_ids_are_told_apart(base_url, admin) -> None:
    async with mcp_session(base_url, admin) as session:
        unknown = await refused(
            session, "trigger_run", pipeline_id=str(uuid.uuid4()), parameters={}
        )
        malformed = await refused(session, "get_run", run_id="run-42")
        missing = await refused(session, "get_run")
        no_run = await refused(session, "read_run_logs", run_id=str(uuid.uuid4()))

    assert (unknown["status"], unknown["code"]) == (404, "not_found")
    assert "pipeline" in unknown["detail"]
    assert malformed["code"] == "invalid_input" and "$.run_id" in malformed["detail"]
    assert "missing required field `run_id`" in missing["detail"]
    assert (no_run["status"], no_run["detail"]) == (404, "no run with that id")


async def test_query_arguments_are_checked_as_the_http_api_checks_them(base_url, admin) -> None:
    async with mcp_session(base_url, admin) as session:
        status = await refused(session, "list_pipelines", status=["sleeping"])
        limit = await refused(session, "list_pipelines", limit=0)
        cursor = await refused(session, "list_pipelines", cursor="not-a-cursor")
        naive = await refused(session, "list_recent_failures", since="2024-01-01T00:00:00")
        ahead = await refused(session, "get_run", run_id=str(uuid.uuid4()), min_position=-1)

    assert "$.status[0]" in status["detail"]
    assert ">= 1" in limit["detail"]
    assert (cursor["code"], cursor["parameter"]) == ("invalid_query", "cursor")
    assert "timezone" in naive["detail"]
    assert ">= 0" in ahead["detail"]


async def test_a_finished_run_cannot_be_cancelled(base_url, admin, world) -> None:
    async with mcp_session(base_url, admin) as session:
        run = await ok(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "x"}
        )
        await ok(session, "cancel_run", run_id=run["id"])
        again = await refused(session, "cancel_run", run_id=run["id"])

    assert (again["status"], again["code"]) == (409, "illegal_transition")
    assert again["detail"] == "cannot cancel a run that is cancelled"
    assert again["current_state"] == "cancelled"


async def test_an_unknown_tool_is_a_protocol_error(base_url, admin) -> None:
    async with mcp_session(base_url, admin) as session:
        with pytest.raises(MCPError) as raised:
            await session.call_tool("drop_database", {})

    assert raised.value.code == INVALID_PARAMS
    assert "unknown tool 'drop_database'" in raised.value.message
    assert "trigger_run" in raised.value.message
