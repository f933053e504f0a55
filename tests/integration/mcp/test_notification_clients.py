"""The notification rules' other clients against the served API: the MCP tool and the
`flowledger notifications` command."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any
from uuid import UUID

from tests.integration.mcp.mcping import Api, mcp_session, ok, refused


def flowledger(base_url: str, key: str, *args: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWLEDGER_")},
        "FLOWLEDGER_API_URL": base_url,
        "FLOWLEDGER_API_KEY": key,
    }
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", "notifications", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


async def test_the_cli_adds_lists_disables_and_removes_and_the_mcp_tool_lists(
    base_url: str, admin: dict[str, str], keys: Any
) -> None:
    api = Api(base_url)
    project, other = await api.project(admin), await api.project(admin)
    answer = await api.http.put(
        f"/api/v1/projects/{project}/secrets/SLACK_URL",
        json={"value": "https://hooks.slack.com/services/T/B/secret-part"},
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    key = (await keys.make("admin", project_id=UUID(project), name="cli-admin"))["X-API-Key"]

    added = flowledger(
        base_url, key, "add", project, "--name", "ci", "--on", "run_failed",
        "--on", "run_recovered", "--slack-url-secret", "SLACK_URL", "--branch", "main",
    )  # fmt: skip
    unknown = flowledger(
        base_url, key, "add", project, "--name", "x", "--on", "run_failed",
        "--slack-url-secret", "NOPE",
    )  # fmt: skip
    no_channel = flowledger(base_url, key, "add", project, "--name", "x", "--on", "run_failed")
    assert added.returncode == 0, added.stderr
    rule = added.stdout.strip()
    await api.get(
        admin, f"/api/v1/projects/{project}/notification-rules", min_position=await api.head(admin)
    )
    listed = flowledger(base_url, key, "list", project)
    disabled = flowledger(base_url, key, "disable", project, rule, "--reason", "holiday")
    head = await api.head(admin)
    async with mcp_session(base_url, admin) as session:
        tool = await ok(session, "list_notification_rules", project_id=project, min_position=head)
    outsider = await keys.make("admin", project_id=UUID(other), name="mcp-outsider")
    async with mcp_session(base_url, outsider) as session:
        hidden = await refused(session, "list_notification_rules", project_id=project)
    removed = flowledger(base_url, key, "remove", project, rule)
    again = flowledger(base_url, key, "remove", project, rule)

    assert unknown.returncode == 5 and "no secret 'NOPE'" in unknown.stderr
    assert no_channel.returncode == 2 and "give a channel" in no_channel.stderr
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(
        f"{rule}\tci\trun_failed,run_recovered\tslack:SLACK_URL\tenabled"
    )
    assert disabled.returncode == 0, disabled.stderr
    [item] = tool["items"]
    assert (item["id"], item["status"], item["disabled_reason"]) == (rule, "disabled", "holiday")
    assert item["channel"] == {"type": "slack", "url": None, "url_secret": "SLACK_URL"}
    assert "secret-part" not in str(tool)
    assert hidden["code"] == "not_found"
    assert removed.returncode == 0 and "removed" in removed.stderr
    assert again.returncode == 5
