"""The issue's reproductions: a value past a read model's limit is a 422 naming the field, and
writes nothing; a value at the limit is accepted and the views hold it."""

from __future__ import annotations

import random
import string
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from adapters.store import reader
from domain.limits import INT32_MAX, REF_MAX
from projections.catalog import ALL
from tests.integration.api.test_runs_api import pipeline
from tests.integration.read_models.conftest import apply_in_batches, make_schema

INT32_PAST = INT32_MAX + 1


def noise(size: int) -> str:
    # Random CJK letters: 3 bytes each in UTF-8, and nothing an index could compress.
    return "".join(chr(random.randrange(0x4E00, 0x9FFF)) for _ in range(size))


async def refused(
    client: AsyncTestClient, pool: asyncpg.Pool, path: str, body: Any, headers: dict[str, str]
) -> dict[str, Any]:
    """The problem answered for `body`, after checking it is a 422 that wrote nothing."""
    head = await reader.head(pool)
    answer = await client.post(path, json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert await reader.head(pool) == head, "a refused request wrote"
    problem = answer.json()
    assert problem["code"] in ("invalid_input", "invalid_value"), problem
    return problem


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pull_request": INT32_PAST}, "pull_request"),
        ({"pull_request": 0}, "pull_request"),
        ({"ref": noise(2700)}, "ref"),
        ({"ref": "refs/heads/\x00main"}, "ref"),
        ({"sha": "a" * 4096}, "sha"),
        ({"pipeline_version": 0}, "pipeline_version"),
        ({"pipeline_version": 2**63}, "pipeline_version"),
        ({"parameters": {"N": 2**64}}, "parameters"),
        ({"parameters": {"TARGET": "x" * 100_000}}, "parameters"),
    ],
    ids=lambda v: str(v)[:40],
)
async def test_a_run_past_a_limit_is_refused_naming_the_field(
    client: AsyncTestClient,
    admin: dict[str, str],
    pool: asyncpg.Pool,
    body: dict[str, Any],
    field: str,
) -> None:
    _, pipeline_id = await pipeline(client, admin)
    problem = await refused(client, pool, f"/api/v1/pipelines/{pipeline_id}/runs", body, admin)
    assert problem["field"].startswith(field), problem


async def test_a_run_at_the_limits_is_accepted_and_every_view_holds_it(
    client: AsyncTestClient, admin: dict[str, str], pool: asyncpg.Pool
) -> None:
    start = await reader.head(pool)
    _, pipeline_id = await pipeline(client, admin)
    body = {"pull_request": INT32_MAX, "ref": noise(REF_MAX), "repo": noise(300)}
    answer = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", json=body, headers=admin)
    assert answer.status_code == 201, answer.text

    events = await reader.read_range(pool, start, await reader.head(pool))
    for projection in ALL:
        schema = await make_schema(pool, projection)
        try:
            await apply_in_batches(pool, projection, schema, events)
        finally:
            await pool.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_a_step_report_past_a_limit_is_refused(
    client: AsyncTestClient, admin: dict[str, str], pool: asyncpg.Pool
) -> None:
    _, pipeline_id = await pipeline(client, admin)
    run = await client.post(f"/api/v1/pipelines/{pipeline_id}/runs", json={}, headers=admin)
    path = f"/api/v1/pipeline-runs/{run.json()['id']}/status"
    for body, field in [
        ({"step": "build", "status": "running", "runner": noise(3000)}, "runner"),
        ({"step": "build", "status": "running", "attempt": INT32_PAST}, "attempt"),
        ({"step": "build", "status": "failed", "exit_code": 2**40}, "exit_code"),
        ({"step": "build", "status": "succeeded", "metrics": {"t": -1}}, "metrics"),
    ]:
        problem = await refused(client, pool, path, body, admin)
        assert problem["field"].startswith(field), problem
    logs = f"/api/v1/pipeline-runs/{run.json()['id']}/logs"
    chunk = {"seq": INT32_PAST, "text": "x", "step": "build"}
    problem = await refused(client, pool, logs, {"chunks": [chunk]}, admin)
    assert "seq" in problem["field"], problem


async def test_a_causation_id_past_the_events_index_is_refused(
    client: AsyncTestClient, admin: dict[str, str], pool: asyncpg.Pool
) -> None:
    # events_causation indexes it: a longer one would fail the append inside PostgreSQL.
    random_ascii = "".join(random.choices(string.ascii_letters + string.digits, k=3000))
    headers = {**admin, "X-Causation-Id": random_ascii}
    body = {"name": "p", "slug": "causation-too-long"}
    head = await reader.head(pool)
    answer = await client.post("/api/v1/projects", json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert await reader.head(pool) == head, "a refused request wrote"
    # The HTTP edge refuses the header before the bus would refuse the metadata it becomes.
    problem = answer.json()
    assert problem["code"] == "invalid_header", problem
    assert "X-Causation-Id" in problem["detail"], problem
