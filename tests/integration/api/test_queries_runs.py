"""GET /api/v1/pipeline-runs over HTTP: each filter, each sort, cursor and offset pages."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from projections.run_queries import RUN_SORTS
from tests.integration.api.queries_support import (
    every_page,
    finish,
    get,
    pipeline,
    project,
    report,
    trigger,
)

pytestmark = pytest.mark.usefixtures("projector")  # session-scoped: it starts before `world`

RUNS = "/api/v1/pipeline-runs"
GITHUB = {"provider": "github_actions", "external_id": "42", "url": "https://ci.example/42"}


@pytest_asyncio.fixture(scope="module")
async def world(client: AsyncTestClient, admin: dict[str, str], keys: Any) -> dict[str, Any]:
    """Two projects; in the first, two pipelines and runs named by what sets them apart."""
    first, other = await project(client, admin), await project(client, admin)
    ci, docs = await pipeline(client, admin, first), await pipeline(client, admin, first)
    alice = await keys.make("write", "runner", name="alice")
    ids: dict[str, str] = {}
    ids["main_ok"] = (await trigger(client, admin, ci, ref="refs/heads/main"))["id"]
    await finish(client, admin, ids["main_ok"], "succeeded")
    ids["dev_failed"] = (await trigger(client, alice, ci, kind="manual", ref="refs/heads/dev"))[
        "id"
    ]
    await finish(client, admin, ids["dev_failed"], "failed")
    ids["tag_running"] = (await trigger(client, admin, docs, ref="refs/tags/v1"))["id"]
    await finish(client, admin, ids["tag_running"], "running")
    ids["external"] = (await trigger(client, admin, docs, external=GITHUB))["id"]
    ids["cancelled"] = (await trigger(client, admin, ci))["id"]
    response = await client.post(f"{RUNS}/{ids['cancelled']}/cancel", headers=admin)
    assert response.status_code == 202, response.text
    elsewhere = await pipeline(client, admin, other)
    ids["elsewhere"] = (await trigger(client, admin, elsewhere))["id"]
    last = await report(client, admin, ids["external"], status="running")
    runs = await get(client, admin, RUNS, at=last, project_id=first, limit=100)
    by_id = {run["id"]: run for run in runs["items"]}
    return {
        "project": first,
        "other": other,
        "ci": ci,
        "docs": docs,
        "position": last,
        "ids": ids,
        "rows": {name: by_id.get(run_id) for name, run_id in ids.items()},
    }


async def names(client, admin, world, **params: Any) -> set[str]:
    params.setdefault("project_id", world["project"])
    found = await get(client, admin, RUNS, limit=1000, **params)
    by_id = {run_id: name for name, run_id in world["ids"].items()}
    return {by_id[run["id"]] for run in found["items"]}


async def test_the_world_is_projected(world) -> None:
    rows = world["rows"]
    assert rows["elsewhere"] is None
    assert {name: row["status"] for name, row in rows.items() if row} == {
        "main_ok": "succeeded",
        "dev_failed": "failed",
        "tag_running": "running",
        "external": "running",
        "cancelled": "cancelled",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"main_ok", "dev_failed", "tag_running", "external", "cancelled"}),
        ({"status": "failed"}, {"dev_failed"}),
        ({"status": "succeeded,failed"}, {"main_ok", "dev_failed"}),
        ({"status": ["running", "cancelled"]}, {"tag_running", "external", "cancelled"}),
        ({"trigger": "manual"}, {"dev_failed"}),
        ({"branch": "main"}, {"main_ok"}),
        ({"ref": "refs/tags/v1"}, {"tag_running"}),
        ({"actor": "alice"}, {"dev_failed"}),
        ({"provider": "github_actions"}, {"external"}),
        ({"provider": "jenkins"}, set()),
    ],
)
async def test_each_filter(client, admin, world, params, expected) -> None:
    assert await names(client, admin, world, **params) == expected


async def test_pipeline_and_project_filters(client, admin, world) -> None:
    assert await names(client, admin, world, pipeline_id=world["docs"]) == {
        "tag_running",
        "external",
    }
    nested = await get(client, admin, f"/api/v1/pipelines/{world['ci']}/runs", status="failed")
    assert [run["id"] for run in nested["items"]] == [world["ids"]["dev_failed"]]
    elsewhere = await get(client, admin, RUNS, project_id=world["other"])
    assert [run["id"] for run in elsewhere["items"]] == [world["ids"]["elsewhere"]]


@pytest.mark.parametrize(
    ("column", "field"),
    [("created", "queued_at"), ("started", "started_at"), ("completed", "finished_at")],
)
async def test_each_date_range(client, admin, world, column, field) -> None:
    rows = {name: row for name, row in world["rows"].items() if row and row[field]}
    times = sorted({row[field] for row in rows.values()})
    middle = times[len(times) // 2]
    after = await names(client, admin, world, **{f"{column}_after": middle})
    before = await names(client, admin, world, **{f"{column}_before": middle})

    # `_after` is inclusive, `_before` exclusive: together they split the rows with a time.
    assert after == {name for name, row in rows.items() if row[field] >= middle}
    assert before == {name for name, row in rows.items() if row[field] < middle}


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("order_by", sorted(RUN_SORTS))
async def test_each_sort(client, admin, world, order_by, order) -> None:
    column = RUN_SORTS[order_by].column
    found = await get(
        client, admin, RUNS, project_id=world["project"], order_by=order_by, order=order
    )
    keys = [(run[column] is not None, run[column] or "", run["id"]) for run in found["items"]]

    # NULLs sort lowest (first ascending, last descending); ties go by id.
    assert keys == sorted(keys, reverse=order == "desc")
    assert len(keys) == 5


async def test_the_default_order_is_newest_first(client, admin, world) -> None:
    found = await get(client, admin, RUNS, project_id=world["project"])
    assert found["items"][0]["id"] == world["ids"]["cancelled"]
    assert found["limit"] == 50
    assert found["next_cursor"] is None
    assert found["position"] >= world["position"]


async def test_offset_pages(client, admin, world) -> None:
    everything = await get(client, admin, RUNS, project_id=world["project"], order="asc")
    pages = [
        await get(
            client, admin, RUNS, project_id=world["project"], order="asc", limit=2, offset=offset
        )
        for offset in (0, 2, 4)
    ]
    assert [run["id"] for page in pages for run in page["items"]] == [
        run["id"] for run in everything["items"]
    ]
    assert [len(page["items"]) for page in pages] == [2, 2, 1]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_cursor_pages_stay_stable_while_runs_arrive(client, admin, order) -> None:
    home = await project(client, admin)
    ci = await pipeline(client, admin, home)
    answers = [await trigger(client, admin, ci) for _ in range(6)]
    before = [answer["id"] for answer in answers]
    await get(client, admin, RUNS, at=answers[-1]["position"], project_id=home, limit=1)
    query = {"project_id": home, "order": order, "limit": 2}

    first = await get(client, admin, RUNS, **query)
    later = [await trigger(client, admin, ci) for _ in range(3)]
    await get(client, admin, RUNS, at=later[-1]["position"], project_id=home, limit=1)
    rest = await every_page(client, admin, RUNS, cursor=first["next_cursor"], **query)
    seen = [run["id"] for run in first["items"] + rest]

    new = [answer["id"] for answer in later]
    if order == "asc":
        # Newer runs sort after the cursor: they follow, with no run twice and none missed.
        assert seen == before + new
    else:
        # Newer runs sort before the cursor: the later pages hold exactly the older runs.
        assert seen == before[::-1]
