"""One version for optimistic concurrency: GET answers the ETag that If-Match takes, and what
GET answered (or what created it) can be sent back with PUT as it is."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.api.test_pipelines_api import new_project, pipeline_body

pytestmark = pytest.mark.usefixtures("projector")


async def fetch(client: AsyncTestClient, admin: dict[str, str], pipeline: str, at: int) -> tuple:
    got = await client.get(f"/api/v1/pipelines/{pipeline}?min_position={at}", headers=admin)
    assert got.status_code == 200, got.text
    return got.headers["ETag"], got.json()


async def test_get_then_put_back_with_its_etag(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    project = await new_project(client, admin)
    created = (
        await client.post("/api/v1/pipelines", json=pipeline_body(project), headers=admin)
    ).json()
    pipeline = created["id"]
    etag, body = await fetch(client, admin, pipeline, created["position"])
    assert etag == f'"{body["stream_version"]}"'

    body["definition"]["description"] = "fetched, changed, sent back"
    put = await client.put(
        f"/api/v1/pipelines/{pipeline}", json=body, headers={**admin, "If-Match": etag}
    )
    assert put.status_code == 202, put.text
    new_etag, after = await fetch(client, admin, pipeline, put.json()["position"])
    assert after["current_version"] == 2 and after["description"] == "fetched, changed, sent back"
    assert new_etag != etag

    stale = await client.put(
        f"/api/v1/pipelines/{pipeline}", json=body, headers={**admin, "If-Match": etag}
    )
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"

    # The creation body, project_id and all, is a definition too.
    again = await client.put(
        f"/api/v1/pipelines/{pipeline}", json=pipeline_body(project), headers=admin
    )
    assert again.status_code == 202, again.text


async def test_another_project_or_id_is_refused_naming_it(
    client: AsyncTestClient, admin: dict[str, str]
) -> None:
    project = await new_project(client, admin)
    created = (
        await client.post("/api/v1/pipelines", json=pipeline_body(project), headers=admin)
    ).json()
    moved = pipeline_body(project) | {"project_id": str(uuid.uuid4())}
    refused = await client.put(f"/api/v1/pipelines/{created['id']}", json=moved, headers=admin)
    assert refused.status_code == 422 and "project_id" in refused.text
    other = pipeline_body(project) | {"id": str(uuid.uuid4())}
    del other["project_id"]
    refused = await client.put(f"/api/v1/pipelines/{created['id']}", json=other, headers=admin)
    assert refused.status_code == 422 and "`id`" in refused.text
