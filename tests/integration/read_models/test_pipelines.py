"""The pipelines read model from real events: versions, status, last run, counts, filters."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from commands import pipelines, runs
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec
from projections.filters import PipelineFilters
from projections.paging import InvalidQuery, Page
from projections.pipeline_queries import (
    get_pipeline,
    list_pipelines,
    pipeline_status,
    pipeline_versions,
)
from tests.integration.read_models.conftest import Driver, Projected

BUILD = StepSpec(name="build", run="make")
FIRST = Page()


async def test_a_pipeline_with_versions_status_and_runs(
    driver: Driver, projected: Projected
) -> None:
    project = await driver.project()
    pipeline = await driver.pipeline(project, name="ci", tags=("py",))
    created = driver.now
    v2 = PipelineDefinition(name="ci-2", description="faster", tags=("py", "fast"), steps=(BUILD,))
    await driver.send(pipelines.DefinePipelineVersion(pipeline_id=pipeline, definition=v2))
    await driver.send(pipelines.DeactivatePipeline(pipeline_id=pipeline))
    await driver.send(pipelines.ActivatePipeline(pipeline_id=pipeline))
    changed = driver.now
    first = await driver.trigger(pipeline)
    await driver.step(first, "build", "running")
    await driver.step(first, "build", "succeeded")
    second = await driver.trigger(pipeline)
    await driver.send(runs.CancelRun(run_id=second))
    last = driver.now
    await projected.catch_up()

    row = await get_pipeline(projected.pool, projected["pipelines"], pipeline)
    assert row is not None
    assert (row.name, row.description, row.tags, row.current_version) == (
        "ci-2",
        "faster",
        ("py", "fast"),
        2,
    )
    assert row.definition["steps"][0]["run"] == "make"
    assert (row.active, row.status, row.created_at, row.updated_at) == (
        True,
        "active",
        created,
        changed,
    )
    assert (row.last_run_id, row.last_run_status, row.last_run_at) == (second, "cancelled", last)
    assert (row.runs_total, row.runs_succeeded, row.runs_cancelled, row.runs_failed) == (
        2,
        1,
        1,
        0,
    )
    versions = await pipeline_versions(projected.pool, projected["pipelines"], pipeline)
    assert [(v.version, v.definition["name"]) for v in versions] == [(1, "ci"), (2, "ci-2")]
    assert versions[0].defined_at == created

    await driver.trigger(pipeline)
    await driver.send(pipelines.ArchivePipeline(pipeline_id=pipeline))
    await projected.catch_up()
    status = await pipeline_status(projected.pool, projected["pipelines"], pipeline)
    assert status is not None
    assert (status.status, status.active, status.runs_total, status.runs_active) == (
        "archived",
        False,
        3,
        1,
    )
    assert status.last_run_status == "queued"


async def test_filters_and_sorts_of_list_pipelines(driver: Driver, projected: Projected) -> None:
    project, other = await driver.project(), await driver.project()
    start = driver.now
    alpha = await driver.pipeline(project, name="Alpha build", tags=("py", "web"))
    beta = await driver.pipeline(project, name="beta", tags=("py",))
    gamma = await driver.pipeline(project, name="gamma_50%", tags=("go",))
    await driver.pipeline(other, name="alpha elsewhere", tags=("py",))
    await driver.send(pipelines.DeactivatePipeline(pipeline_id=beta))
    await projected.catch_up()
    schema, pool = projected["pipelines"], projected.pool

    async def ids(page: Page = FIRST, **filters: object) -> list:
        found = await list_pipelines(
            pool, schema, PipelineFilters(project_ids=(project,), **filters), page
        )
        return [p.id for p in found.items]

    assert await ids() == [gamma, beta, alpha]
    assert await ids(Page(order="asc")) == [alpha, beta, gamma]
    assert await ids(Page(order_by="name", order="asc")) == [alpha, beta, gamma]
    assert await ids(name_contains="ALPHA") == [alpha]
    assert await ids(name_contains="_50%") == [gamma]
    assert await ids(name_contains="a__") == []  # `_` is no wildcard
    assert await ids(tags=("py",)) == [beta, alpha]
    assert await ids(tags=("py", "web")) == [alpha]
    assert await ids(is_active=False) == [beta]
    assert await ids(is_active=True) == [gamma, alpha]
    assert await ids(created_after=start + timedelta(seconds=2)) == [gamma, beta]
    assert await ids(created_before=start + timedelta(seconds=2)) == [alpha]
    assert await ids(updated_after=driver.now) == [beta]
    nobody = await list_pipelines(pool, schema, PipelineFilters(project_ids=()), Page())
    assert nobody.items == ()
    with pytest.raises(InvalidQuery) as wrong:
        await ids(Page(order_by="colour"))
    assert wrong.value.parameter == "order_by"


async def test_an_unknown_pipeline_is_none(projected: Projected) -> None:
    schema = projected["pipelines"]
    assert await get_pipeline(projected.pool, schema, UUID(int=7)) is None
    assert await pipeline_status(projected.pool, schema, UUID(int=7)) is None
    assert await pipeline_versions(projected.pool, schema, UUID(int=7)) == ()
