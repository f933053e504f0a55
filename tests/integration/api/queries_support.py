"""Helpers for the query API tests: a world built through the command API, and GETs that wait."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.helpers import unique_id

ANY_HEAD = 10**12


async def project(client: AsyncTestClient, admin: dict[str, str], name: str = "q") -> str:
    response = await client.post(
        "/api/v1/projects", json={"name": name, "slug": unique_id("q-")[:40]}, headers=admin
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def pipeline(
    client: AsyncTestClient,
    admin: dict[str, str],
    project_id: str,
    *,
    name: str = "ci",
    tags: tuple[str, ...] = (),
) -> str:
    body = {
        "project_id": project_id,
        "name": name,
        "tags": list(tags),
        "steps": [{"name": "build", "run": "make"}, {"name": "test", "run": "make test"}],
    }
    response = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def trigger(
    client: AsyncTestClient, headers: dict[str, str], pipeline_id: str, **body: Any
) -> dict[str, Any]:
    """Trigger a run; the answer holds its `id` and the `position` written."""
    response = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/runs", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def report(client: AsyncTestClient, headers: dict[str, str], run_id: str, **body: Any) -> int:
    """Report a run's or a step's status; returns the position written."""
    response = await client.post(
        f"/api/v1/pipeline-runs/{run_id}/status", json=body, headers=headers
    )
    assert response.status_code == 202, response.text
    return response.json()["position"]


async def finish(
    client: AsyncTestClient, headers: dict[str, str], run_id: str, outcome: str
) -> int:
    """Drive an internal run through its two steps to `outcome` (running/succeeded/failed)."""
    position = await report(client, headers, run_id, step="build", status="running")
    if outcome == "running":
        return position
    if outcome == "failed":
        return await report(client, headers, run_id, step="build", status="failed", exit_code=1)
    await report(client, headers, run_id, step="build", status="succeeded", exit_code=0)
    await report(client, headers, run_id, step="test", status="running")
    return await report(client, headers, run_id, step="test", status="succeeded", exit_code=0)


async def get(
    client: AsyncTestClient,
    headers: dict[str, str],
    path: str,
    *,
    at: int | None = None,
    expect: int = 200,
    **params: Any,
) -> Any:
    """GET `path`; with `at`, once the views have applied that position (read-your-writes)."""
    if at is not None:
        params["min_position"] = at
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


async def every_page(
    client: AsyncTestClient,
    headers: dict[str, str],
    path: str,
    cursor: str | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """Follow `next_cursor` (from `cursor`, else page one) to the end; every item, in order."""
    items: list[dict[str, Any]] = []
    while True:
        page = await get(client, headers, path, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
