"""The other views over HTTP: pipelines, a run's status and logs, analytics, webhook sources."""

from __future__ import annotations

import pytest

from tests.integration.api.queries_support import (
    finish,
    get,
    pipeline,
    project,
    trigger,
)

pytestmark = pytest.mark.usefixtures("projector")


async def test_pipelines_filtered_by_name_tags_and_activity(client, admin) -> None:
    home = await project(client, admin)
    build = await pipeline(client, admin, home, name="Build App", tags=("ci", "linux"))
    deploy = await pipeline(client, admin, home, name="deploy", tags=("cd", "linux"))
    off = await client.post(f"/api/v1/pipelines/{deploy}/deactivate", headers=admin)
    at = off.json()["position"]

    async def ids(**params) -> list[str]:
        found = await get(client, admin, "/api/v1/pipelines", at=at, project_id=home, **params)
        return [item["id"] for item in found["items"]]

    assert await ids(name="build") == [build]
    assert await ids(tags="linux", order_by="name", order="asc") == [build, deploy]
    assert await ids(tags="linux,ci") == [build]
    assert await ids(tags=["linux", "cd"]) == [deploy]
    assert await ids(is_active="false") == [deploy]
    assert await ids(status="inactive") == [deploy]
    assert await ids(order_by="created_at", order="desc") == [deploy, build]


async def test_a_pipeline_its_status_and_its_runs(client, admin) -> None:
    ci = await pipeline(client, admin, await project(client, admin), tags=("x",))
    first = await trigger(client, admin, ci)
    done = await finish(client, admin, first["id"], "succeeded")
    second = await trigger(client, admin, ci)

    one = await get(client, admin, f"/api/v1/pipelines/{ci}", at=second["position"])
    status = await get(client, admin, f"/api/v1/pipelines/{ci}/status")
    runs = await get(client, admin, f"/api/v1/pipelines/{ci}/runs", order="asc")

    assert one["tags"] == ["x"] and one["runs_total"] == 2
    assert status["last_run_id"] == second["id"]
    assert (status["runs_total"], status["runs_succeeded"], status["runs_active"]) == (2, 1, 1)
    assert [run["id"] for run in runs["items"]] == [first["id"], second["id"]]
    assert done <= runs["position"]


async def test_a_runs_status_and_its_logs(client, admin) -> None:
    ci = await pipeline(client, admin, await project(client, admin))
    run = (await trigger(client, admin, ci))["id"]
    await finish(client, admin, run, "running")
    chunks = [{"seq": n, "step": "build", "text": f"line {n}\n"} for n in range(1, 6)]
    chunks[2]["text"] = "ERROR: disk full\n"
    logged = await client.post(
        f"/api/v1/pipeline-runs/{run}/logs", json={"chunks": chunks}, headers=admin
    )
    at = logged.json()["position"]
    logs = f"/api/v1/pipeline-runs/{run}/logs"

    status = await get(client, admin, f"/api/v1/pipeline-runs/{run}/status", at=at)
    everything = await get(client, admin, logs, at=at)
    after = await get(client, admin, logs, step="build", after_seq=3)
    tail = await get(client, admin, logs, step="build", tail=2)
    found = await get(client, admin, logs, q="error")
    paged = await get(client, admin, logs, limit=2)

    assert status["status"] == "running" and status["finished"] is False
    assert [(s["name"], s["status"]) for s in status["steps"]] == [
        ("build", "running"),
        ("test", "pending"),
    ]
    assert [c["seq"] for c in everything["items"]] == [1, 2, 3, 4, 5]
    assert everything["position"] >= at
    assert [c["seq"] for c in after["items"]] == [4, 5]
    assert [c["seq"] for c in tail["items"]] == [4, 5]
    assert [c["text"] for c in found["items"]] == ["ERROR: disk full\n"]
    assert ([c["seq"] for c in paged["items"]], paged["more"]) == ([1, 2], True)


async def test_analytics_of_a_pipeline_and_the_summary(client, admin) -> None:
    home = await project(client, admin)
    ci = await pipeline(client, admin, home)
    for outcome in ("succeeded", "succeeded", "failed"):
        run = (await trigger(client, admin, ci))["id"]
        at = await finish(client, admin, run, outcome)

    stats = await get(client, admin, f"/api/v1/analytics/pipelines/{ci}", at=at, days=7)
    summary = await get(client, admin, "/api/v1/analytics/summary", project_id=home)

    assert stats["runs_total"] == 3
    assert stats["by_status"]["succeeded"] == 2 and stats["by_status"]["failed"] == 1
    assert stats["success_rate"] == pytest.approx(2 / 3)
    assert len(stats["daily"]) in (7, 8)
    assert summary["runs_total"] == 3 and summary["pipelines"] == 1


async def test_webhook_sources_listed_by_kind(client, admin) -> None:
    home = await project(client, admin)
    made = await client.post(
        "/api/v1/webhook-sources",
        json={"project_id": home, "kind": "gitlab", "name": "gl"},
        headers=admin,
    )
    at = made.json()["position"]

    gitlab = await get(client, admin, "/api/v1/webhook-sources", at=at, project_id=home)
    github = await get(client, admin, "/api/v1/webhook-sources", project_id=home, kind="github")
    one = await get(client, admin, f"/api/v1/webhook-sources/{made.json()['id']}")

    assert [s["name"] for s in gitlab["items"]] == ["gl"]
    assert github["items"] == []
    assert one["kind"] == "gitlab" and "secret" not in one
