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
    """Record the owners learnt and the new checkpoint in one statement (so one transaction,
    and one round trip: it was five, with BEGIN, SET LOCAL and COMMIT).

    Committed without waiting for the disk: a crash of PostgreSQL may lose the last few
    hundred milliseconds of checkpoints, and the relay then publishes those events again,
    which JetStream drops as duplicates (well within its window). Waiting for the flush would
    hold every event behind it for one disk write per batch.
    """
    await conn.execute(
        _ADVANCE,
        name,
        position,
        list(learnt),
        [owner.project_id for owner in learnt.values()],
        [owner.pipeline_id for owner in learnt.values()],
    )


# The statements in WITH run whether or not the query reads them; `set_config(..., true)`
# holds for this statement's own transaction, whose commit it is.
_ADVANCE = (
    "WITH learnt AS (INSERT INTO relay_streams (stream_id, project_id, pipeline_id) "
    "SELECT * FROM unnest($3::text[], $4::text[], $5::text[]) "
    "ON CONFLICT (stream_id) DO UPDATE SET "
    "project_id = excluded.project_id, pipeline_id = excluded.pipeline_id), "
    "moved AS (UPDATE relay_checkpoints SET position = $2, updated_at = now() WHERE name = $1) "
    "SELECT set_config('synchronous_commit', 'off', true)"
)
