"""Every filter and sort of list_runs against an oracle in Python; offset and cursor pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import pytest_asyncio

from commands import run_reports, runs
from domain.run_statuses import Provider
from domain.run_values import ExternalRef
from projections.filters import RunFilters
from projections.paging import InvalidQuery, Page
from projections.run_queries import RUN_SORTS, list_runs
from projections.run_rows import RunRow
from tests.integration.read_models.conftest import Driver, Projected

ALL_ROWS = Page(limit=1000)


@dataclass
class World:
    projected: Projected
    driver: Driver
    projects: tuple[UUID, UUID]
    pipelines: tuple[UUID, UUID, UUID]
    rows: list[RunRow]
    """Every run, straight from the table."""

    async def ids(self, page: Page = ALL_ROWS, **filters: object) -> list[UUID]:
        found = await self.list(page, **filters)
        return [r.id for r in found.items]

    async def list(self, page: Page = ALL_ROWS, **filters: object):
        filters.setdefault("project_ids", self.projects)
        schema = self.projected["runs"]
        return await list_runs(self.projected.pool, schema, RunFilters(**filters), page)


def ordered(rows: list[RunRow], column: str = "queued_at", desc: bool = True) -> list[UUID]:
    """The order the read model promises: NULL lowest, ties broken by id."""

    def key(row: RunRow) -> tuple:
        value = getattr(row, column)
        return (value is not None, value or 0, row.id)

    return [r.id for r in sorted(rows, key=key, reverse=desc)]


NIGHTLY = dict(schedule="nightly", slot=datetime(2026, 1, 1, tzinfo=UTC))


@pytest_asyncio.fixture
async def world(driver: Driver, projected: Projected) -> World:
    p, q = await driver.project(), await driver.project()
    a, b, c = await driver.pipeline(p), await driver.pipeline(p), await driver.pipeline(q)
    jenkins = ExternalRef(provider=Provider.JENKINS, external_id="j/1", url="https://j/1")
    gitlab = ExternalRef(provider=Provider.GITLAB, external_id="g/1", url="https://g/1")
    plans = [
        (a, "alice", dict(kind="api", ref="refs/heads/main"), "succeeded"),
        (a, "bob", dict(kind="manual", ref="refs/heads/dev"), "failed"),
        (b, "alice", dict(kind="schedule", ref="refs/tags/v1", **NIGHTLY), "running"),
        (b, "carol", dict(kind="webhook", ref="refs/heads/main", event="push"), "queued"),
        (c, "bob", dict(kind="api"), "cancelled"),
        (a, "alice", dict(kind="api", ref="refs/heads/main", external=jenkins), "ext"),
        (b, "bob", dict(kind="api", external=gitlab), "queued"),
        (c, "alice", dict(kind="manual", ref="refs/heads/dev"), "succeeded"),
        (a, "carol", dict(kind="api", ref="refs/heads/main"), "failed"),
    ]
    for pipeline, actor, fields, outcome in plans:
        run = await driver.trigger(pipeline, actor=actor, **fields)
        driver.tick(60)
        if outcome in ("succeeded", "failed", "running", "cancelled"):
            await driver.step(run, "build", "running")
        if outcome in ("succeeded", "failed"):
            driver.tick(run.int % 50)
            await driver.step(run, "build", outcome)
        elif outcome == "cancelled":
            await driver.send(runs.CancelRun(run_id=run))
            await driver.step(run, "build", "cancelled")
        elif outcome == "ext":
            await driver.send(run_reports.ReportRunStatus(run_id=run, status="succeeded"))
    await projected.catch_up()
    world = World(projected, driver, (p, q), (a, b, c), [])
    world.rows = list((await world.list(Page(limit=1000))).items)
    assert len(world.rows) == len(plans)
    return world


FILTERS: list[tuple[dict[str, object], Callable[[World, RunRow], bool]]] = [
    ({"status": ("failed",)}, lambda w, r: r.status == "failed"),
    ({"status": ("queued", "running")}, lambda w, r: r.status in ("queued", "running")),
    ({"trigger_kind": ("manual",)}, lambda w, r: r.trigger_kind == "manual"),
    ({"trigger_kind": ("api", "webhook")}, lambda w, r: r.trigger_kind in ("api", "webhook")),
    ({"branch": "main"}, lambda w, r: r.branch == "main"),
    ({"ref": "refs/tags/v1"}, lambda w, r: r.ref == "refs/tags/v1"),
    ({"actor": "bob"}, lambda w, r: r.actor == "bob"),
    ({"external_provider": "gitlab"}, lambda w, r: r.external_provider == "gitlab"),
]


@pytest.mark.parametrize(("filters", "keep"), FILTERS, ids=[str(f) for f, _ in FILTERS])
async def test_each_business_filter(world: World, filters: dict, keep: Callable) -> None:
    expected = ordered([r for r in world.rows if keep(world, r)])
    assert expected, "the world has no run to find"
    assert await world.ids(**filters) == expected


async def test_the_branch_filter_is_of_branch_refs_only(world: World) -> None:
    # The branch filter asks for its ref (`refs/heads/<branch>`): a tag of the same short name,
    # a run with no ref, and a branch ref that disagrees must not match.
    mains = ordered([r for r in world.rows if r.branch == "main"])
    assert mains and all(r.ref == "refs/heads/main" for r in world.rows if r.id in mains)
    assert any(r.ref == "refs/tags/v1" for r in world.rows)
    assert await world.ids(branch="v1") == []
    assert await world.ids(branch="refs/heads/main") == []
    assert await world.ids(branch="main", ref="refs/heads/main") == mains
    assert await world.ids(branch="main", ref="refs/heads/dev") == []


async def test_the_pipeline_and_project_filters(world: World) -> None:
    _, q = world.projects
    a, _, c = world.pipelines
    assert await world.ids(pipeline_id=a) == ordered([r for r in world.rows if r.pipeline_id == a])
    assert await world.ids(project_ids=(q,)) == ordered(
        [r for r in world.rows if r.pipeline_id == c]
    )
    assert await world.ids(project_ids=(q,), pipeline_id=a) == []
    assert await world.ids(project_ids=()) == []
    everywhere = await world.ids(project_ids=None)
    assert set(everywhere) >= {r.id for r in world.rows}


@pytest.mark.parametrize("column", ["queued_at", "started_at", "finished_at", "updated_at"])
async def test_each_time_range(world: World, column: str) -> None:
    name = {"queued_at": "created", "finished_at": "completed"}.get(column, column[:-3])
    times = sorted({getattr(r, column) for r in world.rows if getattr(r, column) is not None})
    middle = times[len(times) // 2]
    after = [r for r in world.rows if (v := getattr(r, column)) is not None and v >= middle]
    before = [r for r in world.rows if (v := getattr(r, column)) is not None and v < middle]
    assert after and before
    assert await world.ids(**{f"{name}_after": middle}) == ordered(after)
    assert await world.ids(**{f"{name}_before": middle}) == ordered(before)
    end = middle + timedelta(microseconds=1)
    both = await world.ids(**{f"{name}_after": middle, f"{name}_before": end})
    assert both == ordered([r for r in after if getattr(r, column) < end])


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("order_by", sorted(RUN_SORTS))
async def test_each_sort_in_full_and_by_cursor(world: World, order_by: str, order: str) -> None:
    expected = ordered(world.rows, RUN_SORTS[order_by].column, desc=order == "desc")
    assert await world.ids(Page(limit=1000, order_by=order_by, order=order)) == expected

    seen, cursor = [], None
    while True:
        page = await world.list(Page(limit=2, order_by=order_by, order=order, cursor=cursor))
        seen += [r.id for r in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == expected


async def test_offset_pages(world: World) -> None:
    expected = ordered(world.rows)
    assert await world.ids(Page(limit=3, offset=3)) == expected[3:6]
    assert await world.ids(Page(limit=3, offset=len(expected))) == []
    last = await world.list(Page(limit=3, offset=len(expected) - 3))
    assert last.next_cursor is None


async def test_cursor_pages_stay_stable_while_runs_arrive(world: World) -> None:
    for order in ("desc", "asc"):
        before = ordered(world.rows, desc=order == "desc")
        first = await world.list(Page(limit=4, order=order))
        a = world.pipelines[0]
        arrived = [await world.driver.trigger(a) for _ in range(3)]
        await world.projected.catch_up()
        seen, cursor = [r.id for r in first.items], first.next_cursor
        while cursor is not None:
            page = await world.list(Page(limit=4, order=order, cursor=cursor))
            seen += [r.id for r in page.items]
            cursor = page.next_cursor
        assert len(seen) == len(set(seen))
        # Newer runs sort first in desc order, so they fall before the cursor; last in asc.
        assert seen == (before if order == "desc" else before + arrived)
        world.rows = list((await world.list()).items)


async def test_bad_pages_name_their_parameter(world: World) -> None:
    cursor = (await world.list(Page(limit=2))).next_cursor
    cases = [
        (Page(order_by="sha"), "order_by"),
        (Page(limit=0), "limit"),
        (Page(limit=5000), "limit"),
        (Page(offset=-1), "offset"),
        (Page(offset=2, cursor=cursor), "cursor"),
        (Page(cursor="not-a-cursor"), "cursor"),
        (Page(cursor=cursor, order="asc"), "cursor"),
        (Page(cursor=cursor, order_by="started_at"), "cursor"),
    ]
    for page, parameter in cases:
        with pytest.raises(InvalidQuery) as bad:
            await world.list(page)
        assert bad.value.parameter == parameter, page
