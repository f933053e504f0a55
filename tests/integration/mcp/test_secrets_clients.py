"""The secrets' other clients against the served API: the MCP tool (names only) and the
`flowledger secrets` command (the value from stdin, never from argv)."""

from __future__ import annotations

import os
import secrets as random_text
import subprocess
import sys
from typing import Any
from uuid import UUID

import asyncpg

from adapters.secrets import vault
from tests.integration.mcp.mcping import Api, mcp_session, ok, refused


def flowledger(base_url: str, key: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")},
        "FLOWLEDGER_API_URL": base_url,
        "FLOWLEDGER_API_KEY": key,
    }
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", "secrets", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_the_cli_sets_lists_and_deletes_with_the_value_from_stdin(
    base_url: str, admin: dict[str, str], keys: Any, pool: asyncpg.Pool
) -> None:
    api = Api(base_url)
    project = await api.project(admin)
    writer = (await keys.make("write", "read", project_id=UUID(project), name="cli"))["X-API-Key"]
    value = "cli-" + random_text.token_urlsafe(16)

    set_one = flowledger(base_url, writer, "set", project, "DEPLOY_KEY", stdin=value + "\n")
    set_same = flowledger(base_url, writer, "set", project, "DEPLOY_KEY", stdin=value)
    revealed = await vault.reveal(pool, project, "DEPLOY_KEY")
    await api.get(admin, f"/api/v1/projects/{project}/secrets", min_position=await api.head(admin))
    listed = flowledger(base_url, writer, "list", project)
    deleted = flowledger(base_url, writer, "delete", project, "DEPLOY_KEY")
    again = flowledger(base_url, writer, "delete", project, "DEPLOY_KEY")
    empty = flowledger(base_url, writer, "set", project, "EMPTY", stdin="")

    assert set_one.returncode == 0, set_one.stderr
    assert "version 1" in set_one.stderr and "unchanged" in set_same.stderr
    assert revealed is not None and revealed.value == value  # the newline was the terminal's
    assert listed.returncode == 0 and listed.stdout.startswith("DEPLOY_KEY\t"), listed.stderr
    assert "cli" in listed.stdout and value not in listed.stdout + listed.stderr
    assert deleted.returncode == 0 and await vault.reveal(pool, project, "DEPLOY_KEY") is None
    assert again.returncode == 5 and "not_found" in again.stderr
    assert empty.returncode == 2 and "empty" in empty.stderr


async def test_the_cli_without_a_key_is_a_usage_error(base_url: str) -> None:
    result = flowledger(base_url, "", "list", "00000000-0000-4000-8000-000000000001")

    assert result.returncode == 2 and "API key" in result.stderr


async def test_the_mcp_tool_lists_names_and_versions_never_values(
    base_url: str, admin: dict[str, str], keys: Any
) -> None:
    api = Api(base_url)
    project, other = await api.project(admin), await api.project(admin)
    value = "mcp-" + random_text.token_urlsafe(16)
    path = f"/api/v1/projects/{project}/secrets"
    answer = await api.http.put(f"{path}/TOKEN", json={"value": value}, headers=admin)
    assert answer.status_code == 200, answer.text
    reader = await keys.make("read", project_id=UUID(project), name="mcp-reader")
    outsider = await keys.make("read", project_id=UUID(other), name="mcp-outsider")
    head = answer.json()["position"]

    async with mcp_session(base_url, reader) as session:
        listed = await ok(session, "list_secrets", project_id=project, min_position=head)
    async with mcp_session(base_url, outsider) as session:
        hidden = await refused(session, "list_secrets", project_id=project)

    assert [(i["name"], i["version"]) for i in listed["items"]] == [("TOKEN", 1)]
    assert value not in str(listed)
    assert hidden["code"] == "not_found"
