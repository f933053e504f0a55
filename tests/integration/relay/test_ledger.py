"""The relay's checkpoint and the owners it learnt are recorded together, in one statement."""

from __future__ import annotations

import asyncio

import asyncpg

from adapters.streaming.relay import ledger
from adapters.streaming.relay.subjects import Owner


async def test_owners_and_checkpoint_move_in_one_statement(fresh_conn: asyncpg.Connection) -> None:
    assert await ledger.checkpoint(fresh_conn, "events") == 0
    await ledger.advance(
        fresh_conn, "events", 3, {"run-1": Owner("p-1", "pl-1"), "project-1": Owner()}
    )
    sent: list[str] = []
    fresh_conn.add_query_logger(lambda record: sent.append(record.query))
    learnt = {"run-1": Owner("p-2", "pl-2"), "run-2": Owner("p-1", None)}
    await ledger.advance(fresh_conn, "events", 7, learnt)
    await asyncio.sleep(0.05)  # asyncpg tells its loggers soon after, not at once
    assert len(sent) == 1, sent
    assert await ledger.checkpoint(fresh_conn, "events") == 7
    rows = await fresh_conn.fetch("SELECT stream_id, project_id, pipeline_id FROM relay_streams")
    assert {r["stream_id"]: (r["project_id"], r["pipeline_id"]) for r in rows} == {
        "run-1": ("p-2", "pl-2"),
        "run-2": ("p-1", None),
        "project-1": (None, None),
    }
    assert await ledger.owners(fresh_conn, ["run-1", "run-3"]) == {"run-1": Owner("p-2", "pl-2")}


async def test_with_nothing_learnt_only_the_checkpoint_moves(
    fresh_conn: asyncpg.Connection,
) -> None:
    await ledger.checkpoint(fresh_conn, "events")
    await ledger.advance(fresh_conn, "events", 5, {})
    assert await ledger.checkpoint(fresh_conn, "events") == 5
    assert await fresh_conn.fetchval("SELECT count(*) FROM relay_streams") == 0
