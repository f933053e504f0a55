"""The project secrets API: PUT (write-only), GET (names and versions, never values), DELETE,
through the real app over real PostgreSQL, with the projector running."""

from __future__ import annotations

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from adapters.secrets import vault
from tests.helpers import unique_id
from tests.integration.api.conftest import Keys
from tests.integration.api.queries_support import (
    get,
)

pytestmark = pytest.mark.usefixtures("projector")


async def project(client: AsyncTestClient, admin: dict[str, str]) -> str:
    """A new project, once the views have it (the secrets list answers 404 before)."""
    response = await client.post(
        "/api/v1/projects", json={"name": "s", "slug": unique_id("s-")[:40]}, headers=admin
    )
    assert response.status_code == 201, response.text
    created = response.json()
    await get(client, admin, "/api/v1/projects", at=created["position"])
    return created["id"]


def secrets_of(project_id: str) -> str:
    return f"/api/v1/projects/{project_id}/secrets"


async def test_set_list_and_delete_a_secret_without_ever_answering_its_value(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys, pool: asyncpg.Pool
) -> None:
    project_id = await project(client, admin)
    writer = await keys.make("write", project_id=project_id, name="deployer")
    path = f"{secrets_of(project_id)}/DEPLOY_KEY"

    first = await client.put(path, json={"value": "hunter2-first"}, headers=writer)
    second = await client.put(path, json={"value": "hunter2-second"}, headers=writer)
    scoped = await client.put(
        path, json={"value": "hunter2-prod", "environment": "prod"}, headers=writer
    )

    assert first.status_code == 200, first.text
    assert (first.json()["secret_version"], second.json()["secret_version"]) == (1, 2)
    assert scoped.json()["secret_version"] == 1
    listed = await get(client, writer, secrets_of(project_id), at=scoped.json()["position"])
    listed_items = sorted(
        (i["name"], i["environment"] or "", i["version"], i["updated_by"]) for i in listed["items"]
    )
    assert listed_items == [
        ("DEPLOY_KEY", "", 2, "deployer"),
        ("DEPLOY_KEY", "prod", 1, "deployer"),
    ]
    for answer in (first, second, scoped):
        assert "hunter2" not in answer.text
    assert "hunter2" not in str(listed)
    revealed = await vault.reveal(pool, project_id, "DEPLOY_KEY", environment="prod")
    assert revealed is not None and revealed.value == "hunter2-prod"

    deleted = await client.delete(path, headers=writer)
    again = await client.delete(path, headers=writer)

    assert deleted.status_code == 200, deleted.text
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    after = await get(client, writer, secrets_of(project_id), at=deleted.json()["position"])
    assert [(i["environment"], i["version"]) for i in after["items"]] == [("prod", 1)]
    wide = await vault.reveal(pool, project_id, "DEPLOY_KEY")
    assert wide is None
    bad_env = await client.delete(path, params={"environment": "no spaces"}, headers=writer)
    scoped_gone = await client.delete(path, params={"environment": "prod"}, headers=writer)
    assert bad_env.status_code == 422, bad_env.text
    assert scoped_gone.status_code == 200, scoped_gone.text
    assert await vault.reveal(pool, project_id, "DEPLOY_KEY", environment="prod") is None


async def test_another_projects_key_gets_404_for_every_secret_route(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    mine, theirs = await project(client, admin), await project(client, admin)
    outsider = await keys.make("write", "read", project_id=theirs)
    await client.put(f"{secrets_of(mine)}/TOKEN", json={"value": "v-of-mine"}, headers=admin)

    answers = [
        await client.put(f"{secrets_of(mine)}/TOKEN", json={"value": "x"}, headers=outsider),
        await client.get(secrets_of(mine), headers=outsider),
        await client.delete(f"{secrets_of(mine)}/TOKEN", headers=outsider),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404], [a.text for a in answers]
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in answers)


async def test_an_unknown_project_is_404(client: AsyncTestClient, admin: dict[str, str]) -> None:
    unknown = "00000000-0000-4000-8000-000000000001"

    put = await client.put(f"{secrets_of(unknown)}/A", json={"value": "x"}, headers=admin)
    listed = await client.get(secrets_of(unknown), headers=admin)

    assert (put.status_code, listed.status_code) == (404, 404)


async def test_a_read_key_may_list_but_not_set(
    client: AsyncTestClient, admin: dict[str, str], keys: Keys
) -> None:
    project_id = await project(client, admin)
    reader = await keys.make("read", project_id=project_id)

    put = await client.put(f"{secrets_of(project_id)}/A", json={"value": "x"}, headers=reader)
    listed = await client.get(secrets_of(project_id), headers=reader)

    assert put.status_code == 403 and listed.status_code == 200


@pytest.mark.parametrize(
    ("name", "body", "code"),
    [
        ("A", {"value": ""}, 422),
        ("A", {"value": "x" * (32 * 1024 + 1)}, 422),
        ("A", {"value": 42}, 422),
        ("A", {"value": "a\u0000b"}, 422),
        ("A", {}, 422),
        ("A", {"value": "x", "extra": 1}, 422),
        ("A", {"value": "x", "environment": "no spaces"}, 422),
        ("1BAD", {"value": "x"}, 422),
        ("X" * 101, {"value": "x"}, 422),
        ("A-B", {"value": "x"}, 422),
    ],
)
async def test_bad_input_is_a_4xx_problem_naming_it_and_writes_nothing(
    client: AsyncTestClient, admin: dict[str, str], name: str, body: dict[str, object], code: int
) -> None:
    project_id = await project(client, admin)

    response = await client.put(f"{secrets_of(project_id)}/{name}", json=body, headers=admin)

    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    value = body.get("value")
    if isinstance(value, str) and len(value) > 2:
        assert value not in response.text  # a refused value is not echoed back
    listed = await get(client, admin, secrets_of(project_id))
    assert listed["items"] == []


async def test_a_malformed_body_is_a_problem_not_a_500(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    project_id = await project(client, admin)

    response = await client.put(
        f"{secrets_of(project_id)}/A",
        content=b"{not json",
        headers={**admin, "content-type": "application/json"},
    )

    assert 400 <= response.status_code < 500, response.text


async def test_the_openapi_document_describes_the_secret_routes_and_no_value_is_ever_answered(
    client: AsyncTestClient,
) -> None:
    document = (await client.get("/docs/openapi.json")).json()

    put = document["paths"]["/api/v1/projects/{project_id}/secrets/{name}"]["put"]
    listed = document["paths"]["/api/v1/projects/{project_id}/secrets"]["get"]

    assert put["operationId"] == "setSecret" and "never" in put["description"]
    assert listed["operationId"] == "listSecrets"
    item_schema = str(document["components"]["schemas"])
    assert "SecretItem" in item_schema


async def test_a_secret_bound_to_a_pipeline_is_listed_with_its_scope(
    client: AsyncTestClient, admin: dict[str, str], pool: asyncpg.Pool
) -> None:
    project_id, elsewhere = await project(client, admin), await project(client, admin)
    pipelines = []
    for owner in (project_id, elsewhere):
        made = await client.post(
            "/api/v1/pipelines",
            json={
                "project_id": owner,
                "name": unique_id("p-")[:40],
                "steps": [{"name": "a", "run": "true"}],
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        pipelines.append(made.json()["id"])
    mine, theirs = pipelines
    path = f"{secrets_of(project_id)}/API_TOKEN"

    bound = await client.put(
        path, json={"value": "bound-value", "pipeline_id": mine}, headers=admin
    )
    both = await client.put(
        path,
        json={"value": "x", "pipeline_id": mine, "environment": "prod"},
        headers=admin,
    )
    foreign = await client.put(path, json={"value": "x", "pipeline_id": theirs}, headers=admin)
    unknown = await client.put(
        path,
        json={"value": "x", "pipeline_id": "00000000-0000-4000-8000-000000000002"},
        headers=admin,
    )
    malformed = await client.put(path, json={"value": "x", "pipeline_id": "nope"}, headers=admin)

    assert bound.status_code == 200, bound.text
    assert both.status_code == 422 and "not both" in both.text, both.text
    assert (foreign.status_code, unknown.status_code) == (404, 404), foreign.text
    assert malformed.status_code == 422, malformed.text
    listed = await get(client, admin, secrets_of(project_id), at=bound.json()["position"])
    assert [(i["name"], i["environment"], i["pipeline_id"]) for i in listed["items"]] == [
        ("API_TOKEN", None, mine)
    ]
    # Bound to the pipeline only: the project-wide name is still free, and not revealed.
    assert await vault.reveal(pool, project_id, "API_TOKEN") is None
    from uuid import UUID

    found = await vault.reveal(pool, project_id, "API_TOKEN", pipeline_id=UUID(mine))
    assert found is not None and found.value == "bound-value" and found.pipeline_id == UUID(mine)
    wrong_scope = await client.delete(path, headers=admin)
    gone = await client.delete(path, params={"pipeline_id": mine}, headers=admin)
    assert wrong_scope.status_code == 404, wrong_scope.text
    assert gone.status_code == 200, gone.text
    assert await vault.reveal(pool, project_id, "API_TOKEN", pipeline_id=UUID(mine)) is None
