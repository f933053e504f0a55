"""Who may use /mcp: the API's keys, JWTs, scopes and projects, and nothing without them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import jwt
import pytest
import pytest_asyncio
from mcp import MCPError

from tests.integration.api.conftest import JWT_SECRET
from tests.integration.mcp.mcping import Api, mcp_session, ok, refused

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def bearer(**claims: Any) -> dict[str, str]:
    now = datetime.now(UTC)
    payload = {"sub": "bot", "iat": now, "exp": now + timedelta(minutes=5), **claims}
    return {"Authorization": f"Bearer {jwt.encode(payload, JWT_SECRET, algorithm='HS256')}"}


@pytest_asyncio.fixture(scope="module")
async def world(base_url: str, admin: dict[str, str], keys: Any) -> dict[str, Any]:
    api = Api(base_url)
    project, other = await api.project(admin), await api.project(admin)
    pipeline = await api.pipeline(admin, project)
    run = await api.post(
        admin, f"/api/v1/pipelines/{pipeline}/runs", {"parameters": {"target": "x"}}, 201
    )
    return {
        "api": api,
        "project": project,
        "pipeline": pipeline,
        "run": run,
        "reader": await keys.make("read", project_id=UUID(project), name="reader"),
        "outsider": await keys.make("read", "write", project_id=UUID(other), name="outsider"),
    }


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "credentials_missing"),
        ({"X-API-Key": "flk_nope"}, "credentials_invalid"),
        ({"Authorization": "Bearer not.a.jwt"}, "credentials_invalid"),
    ],
)
async def test_without_valid_credentials_it_answers_401(base_url, headers, code) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base_url}/mcp", json=INITIALIZE, headers={**ACCEPT, **headers}
        )

    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert "Bearer" in response.headers["WWW-Authenticate"]


async def test_the_sdk_client_cannot_connect_without_credentials(base_url) -> None:
    # The SDK turns the 401 into an error on `initialize`, raised out of its task groups.
    with pytest.raises(ExceptionGroup) as refused_at_connect:
        async with mcp_session(base_url, {}):
            pass
    assert refused_at_connect.group_contains(MCPError, match="error response", depth=2)


async def test_a_read_only_key_reads_but_cannot_trigger_or_cancel(base_url, world) -> None:
    run_id = world["run"]["id"]
    async with mcp_session(base_url, world["reader"]) as session:
        run = await ok(session, "get_run", run_id=run_id, min_position=world["run"]["position"])
        listed = await ok(session, "list_pipelines", project_id=world["project"])
        trigger = await refused(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "y"}
        )
        cancel = await refused(session, "cancel_run", run_id=run_id)
        after = await ok(session, "get_run", run_id=run_id)

    assert run["id"] == run_id
    assert [p["id"] for p in listed["items"]] == [world["pipeline"]]
    for problem in (trigger, cancel):
        assert problem["status"] == 403 and problem["code"] == "forbidden"
        assert "'write' scope" in problem["detail"]
    assert after["status"] == "queued"  # the refused cancel wrote nothing


async def test_a_bearer_jwt_with_write_may_trigger(base_url, world) -> None:
    headers = bearer(scopes=["read", "write"], project=world["project"], name="ci-bot")
    async with mcp_session(base_url, headers) as session:
        answer = await ok(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "z"}
        )
        run = await ok(session, "get_run", run_id=answer["id"], min_position=answer["position"])

    assert run["actor"] == "ci-bot"


async def test_another_projects_key_sees_nothing_of_this_project(base_url, world) -> None:
    async with mcp_session(base_url, world["outsider"]) as session:
        run = await refused(session, "get_run", run_id=world["run"]["id"])
        pipeline = await refused(session, "describe_pipeline", pipeline_id=world["pipeline"])
        named = await refused(session, "list_pipelines", project_id=world["project"])
        own = await ok(session, "list_pipelines")
        trigger = await refused(
            session, "trigger_run", pipeline_id=world["pipeline"], parameters={"target": "w"}
        )

    assert run["status"] == pipeline["status"] == 404
    assert named["status"] == 403
    assert world["pipeline"] not in {p["id"] for p in own["items"]}
    # As for the reads: another project's pipeline is told as unknown, naming no project.
    assert (trigger["status"], trigger["code"]) == (404, "not_found")
    assert world["project"] not in trigger["detail"]
