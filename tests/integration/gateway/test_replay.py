"""Replays filter in SQL by the same ownership rule that routes live events, with indexes."""

from __future__ import annotations

from typing import Any

import asyncpg

from adapters.store import EventStore
from adapters.streaming.relay.subjects import Owner, learn
from gateway import events
from gateway.watch import Watch, owner_routes
from tests.integration.gateway.gatewaying import a_run, step
from tests.integration.gateway.test_gateway import key
from tests.integration.relay.relaying import append


async def replayed(conn: asyncpg.Connection, watch: Watch, after: int, upto: int) -> list[int]:
    """Positions a replay sends, read in small batches so that paging is exercised too."""
    found: list[int] = []
    while True:
        batch = await events.replay(conn, watch.level, watch.target or "", after, upto, 3)
        if not batch:
            return found
        found += [e.position for e in batch]
        after = batch[-1].position


async def test_each_watchs_replay_is_exactly_what_live_routing_would_send(
    store: EventStore, services: Any, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        start = await events.head(conn)
    mine = await a_run(store)
    sibling = await a_run(store, mine.project)  # another pipeline of the same project
    await append(store, sibling.pipeline, "pipeline", ("PipelineUpdated", {"version": 2}))
    theirs = await a_run(store)
    await key(services, mine.project)  # an ApiKeyIssued naming the project
    for i in range(3):
        for run in (mine, sibling, theirs):
            await step(store, run.run, i)
    async with pool.acquire() as conn:
        upto = await events.head(conn)
        stored = await events.batch(conn, start, upto, 10_000)
        owners = await events.owners(conn, {e.stream_id for e in stored})
        watches = [
            Watch("run", mine.run),
            Watch("pipeline", mine.pipeline),
            Watch("pipeline", sibling.pipeline),
            Watch("project", mine.project),
            Watch("system", mine.project),
            Watch("system", None),
        ]
        for watch in watches:
            live = [
                e.position
                for e in stored
                if watch.route in owner_routes(e.stream_type, e.stream_id, owners[e.stream_id])
            ]
            assert await replayed(conn, watch, start, upto) == live, watch
    in_project = {e.stream_id for e in stored if owners[e.stream_id].project_id == mine.project}
    assert len(in_project) == 6  # project, 2 pipelines, 2 runs, the key
    assert learn(stored[0]) == Owner(mine.project)


async def test_pipeline_and_project_replays_can_use_the_first_event_indexes(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        for level, index in (
            ("pipeline", "events_first_by_pipeline"),
            ("project", "events_first_by_project"),
        ):
            sql = events.replay_sql(level)
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", 0, 10, 5, "x"))
            assert index in plan, plan
