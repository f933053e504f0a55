"""Every filter and sort of list_runs is served by an index on a table big enough to matter.

No `enable_seqscan = off`: 20,000 runs with realistic spreads, analysed, and the planner left
to choose. A plan that reads the whole runs table anywhere fails.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio

from projections.filters import RunFilters
from projections.paging import Page
from projections.run_queries import RUN_SORTS, list_runs, list_runs_query
from projections.runs import RunsProjection
from tests.integration.read_models.conftest import make_schema

RUNS = 20_000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

# 50 projects, 500 pipelines, 7 statuses, 5 trigger kinds, 40 branches, 100 actors,
# one run in 20 external; requested over 90 days, most started, many finished.
SEED = """
INSERT INTO {s}.runs
SELECT gen_random_uuid(),
       ('00000000-0000-0000-0000-' || lpad((i % 50)::text, 12, '0'))::uuid,
       ('00000000-0000-0000-0001-' || lpad((i % 500)::text, 12, '0'))::uuid,
       1,
       (ARRAY['queued','running','cancelling','succeeded','failed','cancelled','timed_out'])
           [1 + i % 7],
       (ARRAY['manual','api','webhook','retry','schedule'])[1 + i % 5],
       'actor-' || (i % 100),
       'org/repo', 'refs/heads/branch-' || (i % 40), 'branch-' || (i % 40), md5(i::text), NULL,
       NULL, NULL,
       CASE WHEN i % 20 = 0 THEN (ARRAY['jenkins','gitlab','github_actions'])[1 + i % 3] END,
       NULL, NULL, NULL, '{{}}'::jsonb,
       q, CASE WHEN i % 10 > 0 THEN q + interval '5 seconds' END,
       CASE WHEN i % 10 > 1 THEN q + interval '65 seconds' END,
       CASE WHEN i % 10 > 1 THEN 60000 END,
       q + interval '65 seconds', '{{}}'::jsonb, '{{}}'::jsonb, NULL, NULL, NULL, NULL, 1
FROM generate_series(1, {n}) AS i,
     LATERAL (SELECT $1::timestamptz + (i * interval '389 seconds')) AS t(q)
"""

PROJECT = UUID("00000000-0000-0000-0000-000000000007")
PIPELINE = UUID("00000000-0000-0000-0001-000000000042")
MIDDLE = EPOCH + timedelta(days=45)


@pytest_asyncio.fixture(scope="module")
async def big(pool: asyncpg.Pool) -> AsyncIterator[str]:
    schema = await make_schema(pool, RunsProjection())
    await pool.execute(SEED.format(s=schema, n=RUNS), EPOCH)
    await pool.execute(f"ANALYZE {schema}.runs")
    try:
        yield schema
    finally:
        await pool.execute(f"DROP SCHEMA {schema} CASCADE")


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


async def plan_of(pool: asyncpg.Pool, schema: str, filters: RunFilters, page: Page) -> list:
    query = list_runs_query(schema, filters, page)
    explained = await pool.fetchval(f"EXPLAIN (FORMAT JSON) {query.sql}", *query.args)
    return list(nodes(json.loads(explained)[0]["Plan"]))


FILTERS = {
    "pipeline": {"pipeline_id": PIPELINE},
    "one status": {"status": ("failed",)},
    "two statuses": {"status": ("queued", "running")},
    "trigger kind": {"trigger_kind": ("schedule",)},
    "branch": {"branch": "branch-7"},
    "ref": {"ref": "refs/heads/branch-9"},
    "actor": {"actor": "actor-42"},
    "external provider": {"external_provider": "gitlab"},
    "created after": {"created_after": MIDDLE},
    "created range": {"created_after": MIDDLE, "created_before": MIDDLE + timedelta(days=1)},
    "started range": {"started_after": MIDDLE, "started_before": MIDDLE + timedelta(days=1)},
    "completed after": {"completed_after": EPOCH + timedelta(days=88)},
    "updated before": {"updated_before": EPOCH + timedelta(days=2)},
}
REACH = {"every project": None, "one project": (PROJECT,), "two projects": (PROJECT, UUID(int=9))}


@pytest.mark.parametrize("reach", REACH)
@pytest.mark.parametrize("name", FILTERS)
async def test_each_filter_is_served_by_an_index(big: str, pool: asyncpg.Pool, name, reach) -> None:
    filters = RunFilters(project_ids=REACH[reach], **FILTERS[name])
    plan = await plan_of(pool, big, filters, Page())
    assert not [n for n in plan if n["Node Type"] == "Seq Scan"], plan


@pytest.mark.parametrize("reach", REACH)
@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("order_by", sorted(RUN_SORTS))
async def test_each_sort_is_served_by_an_index(
    big: str, pool: asyncpg.Pool, order_by: str, order: str, reach: str
) -> None:
    page = Page(order_by=order_by, order=order)
    plan = await plan_of(pool, big, RunFilters(project_ids=REACH[reach]), page)
    assert not [n for n in plan if n["Node Type"] == "Seq Scan"], plan
    if reach == "every project":
        # Read in index order and stopped at the limit: no sort of the whole table.
        assert not [n for n in plan if n["Node Type"] == "Sort"], plan


async def test_a_cursor_page_deep_in_the_table_is_served_by_an_index(
    big: str, pool: asyncpg.Pool
) -> None:
    first = await list_runs(pool, big, RunFilters(), Page(limit=1000, order_by="started_at"))
    page = Page(limit=50, order_by="started_at", cursor=first.next_cursor)
    plan = await plan_of(pool, big, RunFilters(), page)
    assert not [n for n in plan if n["Node Type"] in ("Seq Scan", "Sort")], plan


async def test_the_branch_filter_reads_the_ref_index(big: str, pool: asyncpg.Pool) -> None:
    # The view keeps no index of its own for branch (it is the ref less `refs/heads/`).
    indexes = {
        r[0]
        for r in await pool.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = $1", big)
    }
    assert "runs_ref" in indexes and "runs_branch" not in indexes
    plan = await plan_of(pool, big, RunFilters(branch="branch-7"), Page())
    assert "runs_ref" in {n.get("Index Name") for n in plan}, plan
