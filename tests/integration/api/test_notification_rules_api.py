"""Notification rules over HTTP: create, list, read (who made and changed it), change, disable,
enable, delete, and the error paths: a bad URL, a private target not allow-listed, a secret
the project lacks, an unknown project, another project's rule, a pipeline of another project.
"""

from __future__ import annotations

import uuid

import pytest

from tests.integration.api.queries_support import get, pipeline, project

pytestmark = pytest.mark.usefixtures("projector")

SLACK = {"type": "slack", "url": "https://hooks.slack.com/services/T0/B0/abc"}


def path(project_id: str) -> str:
    return f"/api/v1/projects/{project_id}/notification-rules"


def rule(**more) -> dict:
    return {
        "name": "ci failures",
        "triggers": ["run_failed", "run_recovered"],
        "channel": SLACK,
    } | more


async def create(client, headers, project_id: str, **more) -> dict:
    response = await client.post(path(project_id), json=rule(**more), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def set_secret(client, headers, project_id: str, name: str, value: str) -> None:
    response = await client.put(
        f"/api/v1/projects/{project_id}/secrets/{name}", json={"value": value}, headers=headers
    )
    assert response.status_code in (200, 201, 202), response.text


async def test_created_listed_changed_and_deleted_with_who_did_it(client, admin, keys) -> None:
    home = await project(client, admin)
    await set_secret(client, admin, home, "SMTP_PASSWORD", "hunter2-" + uuid.uuid4().hex)
    made = await create(client, admin, home, branch="main")
    other_admin = await keys.make("admin", project_id=uuid.UUID(home), name="second admin")
    email = {
        "type": "email",
        "host": "smtp.example.com",
        "port": 587,
        "sender": "ci@example.com",
        "to": ["ops@example.com"],
        "username": "ci",
        "password_secret": "SMTP_PASSWORD",
    }
    changed = await client.put(
        f"{path(home)}/{made['id']}",
        json=rule(triggers=["approval_waiting"], channel=email),
        headers=other_admin,
    )
    assert changed.status_code == 202, changed.text

    one = await get(client, admin, f"{path(home)}/{made['id']}", at=changed.json()["position"])
    listed = await get(client, admin, path(home), count="true")
    assert listed["total"] == 1 and listed["items"][0]["id"] == made["id"]
    assert one["triggers"] == ["approval_waiting"]
    assert (
        one["channel"]["type"] == "email" and one["channel"]["password_secret"] == "SMTP_PASSWORD"
    )
    assert (one["created_by"], one["updated_by"]) == ("root", "second admin")
    assert (one["status"], one["branch"], one["parked"]) == ("enabled", None, 0)

    off = await client.post(
        f"{path(home)}/{made['id']}/disable", json={"reason": "noisy"}, headers=admin
    )
    on = await client.post(f"{path(home)}/{made['id']}/enable", headers=admin)
    gone = await client.delete(f"{path(home)}/{made['id']}", headers=admin)
    again = await client.delete(f"{path(home)}/{made['id']}", headers=admin)
    assert [r.status_code for r in (off, on, gone, again)] == [202, 202, 202, 409]
    deliveries = await get(
        client, admin, f"{path(home)}/{made['id']}/deliveries", at=gone.json()["position"]
    )
    assert deliveries == {"items": [], "next_after": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (rule(channel={"type": "slack", "url": "ftp://x/y"}), "channel.url"),
        (rule(channel={"type": "slack", "url": "https://u:p@hooks.example.com/"}), "channel.url"),
        (rule(channel={"type": "slack"}), "channel"),
        (
            rule(channel={"type": "slack", "url": "https://h.example.com/", "url_secret": "X"}),
            "channel",
        ),
        (rule(channel={"type": "pager"}), "channel"),
        (rule(triggers=[]), "triggers"),
        (rule(triggers=["run_exploded"]), "triggers"),
        (rule(name=""), "name"),
        (rule(branch="has space"), "branch"),
        (rule(channel={**SLACK, "secret": "x"}), "secret"),
        (
            rule(
                channel={
                    "type": "email",
                    "host": "smtp.example.com",
                    "sender": "nope",
                    "to": ["a@example.com"],
                }
            ),
            "channel.sender",
        ),
        (
            rule(
                channel={
                    "type": "email",
                    "host": "smtp.example.com",
                    "sender": "a@example.com",
                    "to": [],
                }
            ),
            "channel.to",
        ),
        (
            rule(
                channel={
                    "type": "email",
                    "host": "smtp.example.com",
                    "sender": "a@example.com",
                    "to": ["b@example.com"],
                    "username": "only-a-user",
                }
            ),
            "channel",
        ),
    ],
)
async def test_a_bad_body_is_a_4xx_naming_the_field(client, admin, body, field) -> None:
    home = await project(client, admin)
    response = await client.post(path(home), json=body, headers=admin)

    assert response.status_code in (400, 422), response.text
    assert field in response.text


@pytest.mark.parametrize(
    ("channel", "field"),
    [
        ({"type": "slack", "url": "http://10.1.2.3/hook"}, "channel.url"),
        ({"type": "slack", "url": "http://127.0.0.1:8080/hook"}, "channel.url"),
        ({"type": "slack", "url": "http://[::1]/hook"}, "channel.url"),
        (
            {
                "type": "email",
                "host": "192.168.1.5",
                "port": 25,
                "sender": "a@example.com",
                "to": ["b@example.com"],
            },
            "channel.host",
        ),
    ],
)
async def test_a_private_target_not_allow_listed_is_refused(client, admin, channel, field) -> None:
    home = await project(client, admin)
    response = await client.post(path(home), json=rule(channel=channel), headers=admin)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("target_not_allowed", field)
    assert "FLOWLEDGER_OUTBOUND_ALLOW" in problem["detail"]


async def test_a_secret_the_project_lacks_is_refused_by_name(client, admin) -> None:
    home, elsewhere = await project(client, admin), await project(client, admin)
    await set_secret(client, admin, elsewhere, "SLACK_URL", "https://hooks.slack.com/services/x")
    body = rule(channel={"type": "slack", "url_secret": "SLACK_URL"})

    response = await client.post(path(home), json=body, headers=admin)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "channel.url_secret"
    assert "no secret 'SLACK_URL'" in response.json()["detail"]


async def test_unknown_project_rule_or_another_projects_pipeline(client, admin) -> None:
    home, theirs = await project(client, admin), await project(client, admin)
    their_pipeline = await pipeline(client, admin, theirs)
    missing = str(uuid.uuid4())

    created = await client.post(path(missing), json=rule(), headers=admin)
    read = await client.get(f"{path(home)}/{missing}", headers=admin)
    deleted = await client.delete(f"{path(home)}/{missing}", headers=admin)
    foreign = await client.post(path(home), json=rule(pipeline_id=their_pipeline), headers=admin)

    assert [r.status_code for r in (created, read, deleted)] == [404] * 3
    assert foreign.status_code == 422 and foreign.json()["field"] == "pipeline_id"


async def test_another_projects_rule_is_not_found_through_this_one(client, admin, keys) -> None:
    mine, theirs = await project(client, admin), await project(client, admin)
    made = await create(client, admin, theirs)
    mine_admin = await keys.make("admin", project_id=uuid.UUID(mine))
    rule_path = f"{path(mine)}/{made['id']}"

    answers = [
        await client.delete(rule_path, headers=admin),
        await client.put(rule_path, json=rule(), headers=admin),
        await client.post(f"{rule_path}/disable", json={}, headers=admin),
        await client.post(
            f"{rule_path}/deliveries/resend",
            json={"message_id": "m", "event_position": 1},
            headers=admin,
        ),
        await client.get(rule_path, headers=admin, params={"min_position": made["position"]}),
        await client.get(f"{path(theirs)}/{made['id']}", headers=mine_admin),
    ]

    assert [a.status_code for a in answers[:5]] == [404] * 5
    assert answers[5].status_code in (403, 404)
