"""Issue 21's small promises: `GET /`, `GET /ping`, the pipelines' `version` filter, `total`."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from tests.integration.api.queries_support import (
    get,
    pipeline,
    project,
    trigger,
)

pytestmark = pytest.mark.usefixtures("projector")


async def test_the_root_names_the_service_and_links_onward_without_a_key(client) -> None:
    response = await client.get("/")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "flowledger"
    assert body["version"] == version("flowledger")
    assert body["links"]["docs"] == "/docs"
    assert body["links"]["dashboard"] == "/dashboard"
    assert body["links"]["health"] == "/health"
    for link in ("/health", "/docs/openapi.json", "/ping"):
        assert (await client.get(link)).status_code == 200, link


async def test_ping_answers_pong_without_a_key(client) -> None:
    response = await client.get("/ping")

    assert response.status_code == 200
    assert response.json()["pong"] is True


async def test_pipelines_filtered_by_their_current_version(client, admin) -> None:
    home = await project(client, admin)
    once = await pipeline(client, admin, home, name="once")
    twice = await pipeline(client, admin, home, name="twice")
    definition = {"name": "twice", "steps": [{"name": "build", "run": "make all"}]}
    changed = await client.put(f"/api/v1/pipelines/{twice}", json=definition, headers=admin)
    assert changed.status_code == 202, changed.text
    at = changed.json()["position"]

    async def ids(**params) -> list[str]:
        found = await get(client, admin, "/api/v1/pipelines", at=at, project_id=home, **params)
        return [item["id"] for item in found["items"]]

    assert await ids(version=1) == [once]
    assert await ids(version=2) == [twice]
    assert await ids(version=3) == []


@pytest.mark.parametrize("bad", ["0", "x", "2147483648", "-1"])
async def test_a_bad_version_is_a_422_naming_it(client, admin, bad: str) -> None:
    response = await client.get("/api/v1/pipelines", params={"version": bad}, headers=admin)

    assert response.status_code == 422
    assert response.json()["parameter"] == "version"


async def test_total_is_given_only_when_asked_and_counts_past_the_page(client, admin) -> None:
    home = await project(client, admin)
    ci = await pipeline(client, admin, home)
    runs = [await trigger(client, admin, ci) for _ in range(5)]
    at = runs[-1]["position"]
    path = f"/api/v1/pipelines/{ci}/runs"

    plain = await get(client, admin, path, at=at)
    first = await get(client, admin, path, at=at, limit=2, count="true")
    later = await get(client, admin, path, limit=2, cursor=first["next_cursor"], count="true")
    offset = await get(client, admin, path, limit=2, offset=4, count="true")
    whole = await get(client, admin, "/api/v1/pipelines", project_id=home, count="true")
    none = await get(client, admin, path, count="true", status="failed")

    assert "total" not in plain
    assert (first["total"], len(first["items"])) == (5, 2)
    assert (later["total"], len(later["items"])) == (5, 2)
    assert (offset["total"], len(offset["items"])) == (5, 1)
    assert whole["total"] == 1
    assert none["total"] == 0


async def test_total_counts_only_what_the_caller_may_see(client, admin, keys) -> None:
    mine, theirs = await project(client, admin), await project(client, admin)
    await pipeline(client, admin, mine)
    last = await pipeline(client, admin, theirs)
    reader = await keys.make("read", project_id=mine)
    at = (await trigger(client, admin, last))["position"]

    found = await get(client, reader, "/api/v1/pipelines", at=at, count="true")

    assert found["total"] == 1


async def test_count_must_be_a_boolean(client, admin) -> None:
    response = await client.get("/api/v1/projects", params={"count": "maybe"}, headers=admin)

    assert response.status_code == 422
    assert response.json()["parameter"] == "count"
