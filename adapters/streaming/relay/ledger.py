"""The relay's rows: its checkpoint and the stream-to-owner map, read and moved together.

The events themselves come from the event store's reader (`reader.read_after`, upcast).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import asyncpg

from adapters.streaming.relay.subjects import Owner


async def checkpoint(conn: asyncpg.Connection, name: str) -> int:
    """The last published position (creating the row at 0 if it is missing)."""
    await conn.execute(
        "INSERT INTO relay_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", name
    )
    return await conn.fetchval("SELECT position FROM relay_checkpoints WHERE name = $1", name)


async def owners(conn: asyncpg.Connection, stream_ids: Collection[str]) -> dict[str, Owner]:
    rows = await conn.fetch(
        "SELECT stream_id, project_id, pipeline_id FROM relay_streams "
        "WHERE stream_id = ANY($1::text[])",
        list(stream_ids),
    )
    return {r["stream_id"]: Owner(r["project_id"], r["pipeline_id"]) for r in rows}


async def advance(
    conn: asyncpg.Connection, name: str, position: int, learnt: Mapping[str, Owner]
) -> None:
    """Record the owners learnt and the new checkpoint in one transaction.

    Committed without waiting for the disk: a crash of PostgreSQL may lose the last few
    hundred milliseconds of checkpoints, and the relay then publishes those events again,
    which JetStream drops as duplicates (well within its window). Waiting for the flush would
    hold every event behind it for one disk write per batch.
    """
    async with conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit TO off")
        if learnt:
            await conn.executemany(
                "INSERT INTO relay_streams (stream_id, project_id, pipeline_id) "
                "VALUES ($1, $2, $3) ON CONFLICT (stream_id) DO UPDATE SET "
                "project_id = excluded.project_id, pipeline_id = excluded.pipeline_id",
                [(stream, o.project_id, o.pipeline_id) for stream, o in learnt.items()],
            )
        await conn.execute(
            "UPDATE relay_checkpoints SET position = $2, updated_at = now() WHERE name = $1",
            name,
            position,
        )
