"""A caller reads with `read` on a project; a project-bound key sees only its own project."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
import pytest_asyncio

from adapters.store.reader import head
from tests.integration.api.queries_support import (
    get,
    pipeline,
    project,
    trigger,
)

pytestmark = pytest.mark.usefixtures("projector")


@pytest_asyncio.fixture(scope="module")
async def two(client, admin, keys) -> dict[str, Any]:
    mine, theirs = await project(client, admin), await project(client, admin)
    my_ci, their_ci = await pipeline(client, admin, mine), await pipeline(client, admin, theirs)
    my_run = await trigger(client, admin, my_ci)
    their_run = await trigger(client, admin, their_ci)
    await get(client, admin, "/api/v1/status", at=their_run["position"])
    return {
        "mine": mine,
        "theirs": theirs,
        "my_ci": my_ci,
        "their_ci": their_ci,
        "my_run": my_run["id"],
        "their_run": their_run["id"],
        "reader": await keys.make("read", project_id=UUID(mine), name="reader"),
    }


@pytest.mark.parametrize("path", ["/api/v1/pipeline-runs", "/api/v1/pipelines", "/api/v1/projects"])
async def test_a_project_bound_key_lists_only_its_project(client, two, path) -> None:
    found = await get(client, two["reader"], path, limit=1000)

    project_of = (
        (lambda item: item["id"])
        if path.endswith("projects")
        else (lambda item: item["project_id"])
    )
    assert {project_of(item) for item in found["items"]} == {two["mine"]}


async def test_naming_another_project_in_a_filter_is_forbidden(client, two) -> None:
    response = await client.get(
        "/api/v1/pipeline-runs", params={"project_id": two["theirs"]}, headers=two["reader"]
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    mine = await get(client, two["reader"], "/api/v1/pipeline-runs", project_id=two["mine"])
    assert [run["id"] for run in mine["items"]] == [two["my_run"]]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/pipeline-runs/{their_run}",
        "/api/v1/pipeline-runs/{their_run}/status",
        "/api/v1/pipeline-runs/{their_run}/logs",
        "/api/v1/pipelines/{their_ci}",
        "/api/v1/pipelines/{their_ci}/status",
        "/api/v1/pipelines/{their_ci}/runs",
        "/api/v1/analytics/pipelines/{their_ci}",
        "/api/v1/projects/{theirs}",
    ],
)
async def test_another_projects_item_is_not_found(client, two, admin, path) -> None:
    path = path.format(**two)
    hidden = await client.get(path, headers=two["reader"])
    shown = await client.get(path, headers=admin)

    # Indistinguishable from an id that does not exist: its existence is not told.
    assert hidden.status_code == 404, hidden.text
    assert hidden.json()["code"] == "not_found"
    assert shown.status_code == 200, shown.text


async def test_reading_needs_the_read_scope(client, keys, two) -> None:
    runner = await keys.make("runner", project_id=UUID(two["mine"]), name="runner-only")

    response = await client.get("/api/v1/pipeline-runs", headers=runner)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize("path", ["/api/v1/api-keys", "/api/v1/webhook-sources"])
async def test_keys_and_webhook_sources_need_admin(client, two, admin, path) -> None:
    refused = await client.get(path, headers=two["reader"])
    listed = await get(client, admin, path)

    assert refused.status_code == 403
    assert isinstance(listed["items"], list)


async def test_api_keys_are_listed_without_secrets(client, admin, two, services) -> None:
    # The reader key was made after the fixture's wait: read once the view has it.
    written = await head(services.store.pool)
    found = await get(client, admin, "/api/v1/api-keys", at=written, limit=1000, order_by="name")

    reader = next(key for key in found["items"] if key["name"] == "reader")
    assert reader["project_id"] == two["mine"]
    assert not {"secret", "secret_hash"} & set(reader)
