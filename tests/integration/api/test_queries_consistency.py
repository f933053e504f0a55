"""Read-your-writes: `min_position` waits for the views; a view that cannot catch up is a 503."""

from __future__ import annotations

import pytest

from adapters.http.reads import consistency
from tests.integration.api.queries_support import (
    ANY_HEAD,
    get,
    pipeline,
    project,
    trigger,
)

pytestmark = pytest.mark.usefixtures("projector")


async def test_a_run_is_there_once_the_view_reached_the_commands_position(client, admin) -> None:
    ci = await pipeline(client, admin, await project(client, admin))
    written = await trigger(client, admin, ci, ref="refs/heads/main")

    response = await client.get(
        f"/api/v1/pipeline-runs/{written['id']}",
        params={"min_position": written["position"]},
        headers=admin,
    )

    assert response.status_code == 200, response.text
    assert int(response.headers["X-Projection-Position"]) >= written["position"]
    run = response.json()
    assert run["status"] == "queued"
    assert [step["name"] for step in run["steps"]] == ["build", "test"]


async def test_the_header_works_like_the_parameter(client, admin) -> None:
    ci = await pipeline(client, admin, await project(client, admin))
    written = await trigger(client, admin, ci)

    response = await client.get(
        f"/api/v1/pipelines/{ci}/runs",
        headers={**admin, "X-Min-Position": str(written["position"])},
    )

    assert response.status_code == 200, response.text
    assert [run["id"] for run in response.json()["items"]] == [written["id"]]
    assert response.json()["position"] == int(response.headers["X-Projection-Position"])


async def test_a_view_that_cannot_catch_up_in_time_is_a_503(
    client, admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consistency, "WAIT_S", 0.2)

    response = await client.get(
        "/api/v1/pipeline-runs", params={"min_position": ANY_HEAD}, headers=admin
    )

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["code"] == "projection_behind"
    assert body["min_position"] == ANY_HEAD
    assert int(response.headers["X-Projection-Position"]) == body["position"] < ANY_HEAD


async def test_every_answer_carries_its_views_position(client, admin) -> None:
    ci = await pipeline(client, admin, await project(client, admin))
    written = await trigger(client, admin, ci)
    run = written["id"]
    await get(client, admin, f"/api/v1/pipeline-runs/{run}", at=written["position"])

    for path in (
        "/api/v1/pipelines",
        f"/api/v1/pipelines/{ci}",
        f"/api/v1/pipelines/{ci}/status",
        f"/api/v1/pipeline-runs/{run}/status",
        f"/api/v1/pipeline-runs/{run}/logs",
        f"/api/v1/analytics/pipelines/{ci}",
        "/api/v1/analytics/summary",
        "/api/v1/projects",
        "/api/v1/api-keys",
        "/api/v1/webhook-sources",
        "/api/v1/status",
    ):
        response = await client.get(
            path, params={"min_position": written["position"]}, headers=admin
        )
        assert response.status_code == 200, (path, response.text)
        assert int(response.headers["X-Projection-Position"]) >= written["position"], path


async def test_the_service_status_shows_each_views_lag(client, admin) -> None:
    ci = await pipeline(client, admin, await project(client, admin))
    written = await trigger(client, admin, ci)
    await get(client, admin, f"/api/v1/pipelines/{ci}/runs", at=written["position"])

    status = await get(client, admin, "/api/v1/status")

    assert status["service"] == "flowledger"
    assert status["head_position"] >= written["position"]
    views = {view["name"]: view for view in status["projections"]}
    assert {"runs", "pipelines", "logs", "projects"} <= set(views)
    assert views["runs"]["position"] >= written["position"]
    assert all(view["lag_events"] >= 0 for view in views.values())
