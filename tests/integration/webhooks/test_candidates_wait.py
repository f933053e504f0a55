"""The intake's candidates wait for the pipelines view only when it may answer differently at
the delivery's position: when a pipeline was defined, (de)activated or archived meanwhile."""

from __future__ import annotations

import json
import time
from uuid import uuid4

import asyncpg

from adapters.store import EventStore, NewEvent
from adapters.webhooks.candidates import ViewCandidates
from projections.pipelines import PipelinesProjection
from tests.helpers import unique_id

VIEW = "pipelines_under_test"
PATIENCE_S = 30.0


async def _world(url: str) -> str:
    """An empty pipelines view in a schema of its own, its checkpoint at 0: the schema."""
    schema = unique_id("rm_wait_")[:40]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(PipelinesProjection().ddl(schema))
        await conn.execute(
            "INSERT INTO projection_checkpoints (name, version, position, state) "
            "VALUES ($1, 1, 0, 'running')",
            VIEW,
        )
    finally:
        await conn.close()
    return schema


async def _append(store: EventStore, stream_type: str, event_type: str) -> int:
    result = await store.append(
        str(uuid4()), stream_type, [NewEvent(type=event_type, data={})], expected_version=0
    )
    return result.last_position


async def test_runs_requested_after_the_view_do_not_hold_the_intake(
    fresh_database_url: str,
) -> None:
    schema = await _world(fresh_database_url)
    async with EventStore(fresh_database_url, stream_types={"run", "pipeline"}) as store:
        await _append(store, "run", "RunRequested")
        position = await _append(store, "run", "RunRequested")
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2) as pool:
        candidates = ViewCandidates(pool, schema=schema, view=VIEW, wait_s=PATIENCE_S)
        start = time.monotonic()

        assert await candidates(uuid4(), position=position) == []
        # Before, it waited out its whole patience for a view no projector moved.
        assert time.monotonic() - start < PATIENCE_S / 2


async def test_a_pipeline_defined_after_the_view_is_waited_for(fresh_database_url: str) -> None:
    schema = await _world(fresh_database_url)
    async with EventStore(fresh_database_url, stream_types={"run", "pipeline"}) as store:
        await _append(store, "pipeline", "PipelineCreated")
        position = await _append(store, "run", "RunRequested")
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=2) as pool:
        candidates = ViewCandidates(pool, schema=schema, view=VIEW, wait_s=1.0)
        start = time.monotonic()

        await candidates(uuid4(), position=position)

        assert time.monotonic() - start >= 1.0


async def test_a_view_that_reached_the_delivery_answers_in_one_statement_with_its_files(
    fresh_database_url: str,
) -> None:
    """The reach, what lies between, and the rows in one round trip; each candidate says
    whether its pipeline reads a file at the pushed sha (such a push is decided alone)."""
    schema = await _world(fresh_database_url)
    project = uuid4()
    files = [{"path": ".flowledger.yml"}, None, "absent"]
    async with EventStore(fresh_database_url, stream_types={"run", "pipeline"}) as store:
        position = await _append(store, "run", "RunRequested")
    async with asyncpg.create_pool(fresh_database_url, min_size=1, max_size=1) as pool:
        for n, file in enumerate(files):
            definition = {"name": f"p{n}", "triggers": []}
            if file != "absent":
                definition["repository_file"] = file
            await pool.execute(
                f'INSERT INTO "{schema}".pipelines (id, project_id, name, description, tags, '
                "current_version, definition, active, status, created_at, updated_at, "
                "stream_version, runs_total, runs_succeeded, runs_failed, runs_cancelled, "
                "runs_timed_out) VALUES ($1, $2, $3, '', '{}', 1, $4::jsonb, true, 'active', "
                "now() + make_interval(secs => $5), now(), 1, 0, 0, 0, 0, 0)",
                uuid4(),
                project,
                f"p{n}",
                json.dumps(definition),
                n,
            )
        await pool.execute(
            "UPDATE projection_checkpoints SET position = $2 WHERE name = $1", VIEW, position
        )
        asked: list[str] = []
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda logged: asked.append(logged.query))
        reset = "SELECT pg_advisory_unlock_all()"  # this test pool's, on each release
        candidates = ViewCandidates(pool, schema=schema, view=VIEW, wait_s=PATIENCE_S)

        found = await candidates(project, position=position)

        assert [(c.name, c.reads_file) for c in found] == [
            ("p0", True), ("p1", False), ("p2", False)
        ]  # fmt: skip
        assert len([query for query in asked if not query.startswith(reset)]) == 1, asked
