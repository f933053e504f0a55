"""The gateway's replays: one watch level's events in a position range, filtered in SQL.

A stream belongs where its first event says (the rule of the relay's subjects); the partial
indexes of 0008_gateway_replay.sql (narrowed by 0016 to the types asked for here) find those
first events by owner, so the filter below must keep their exact expressions, and a type added
to PROJECT_IN_DATA needs a migration widening the index (test_replay checks the plans).
Answers are current (upcast, as the relay publishes them).
"""

from __future__ import annotations

from typing import Any

from adapters.store.reader import Conn, current_envelopes
from adapters.store.rows import COLUMNS
from domain.envelope import EventEnvelope

PROJECT_IN_DATA = (
    "PipelineCreated",
    "RunRequested",
    "ApiKeyIssued",
    "WebhookSourceRegistered",
    "WebhookReceived",
    "EnvironmentConfigured",
    "ConcurrencyGroupOpened",
    "ApproverGroupCreated",
)
"""First events whose `project_id` names their stream's project (as the relay's `learn`
reads them)."""

_types = ", ".join(f"'{t}'" for t in PROJECT_IN_DATA)
_STREAMS_OF = {
    "pipeline": (
        "SELECT stream_id FROM events WHERE stream_id = $4 AND version = 1 "
        "AND type = 'PipelineCreated' UNION ALL SELECT stream_id FROM events "
        "WHERE version = 1 AND data->>'pipeline_id' = $4 AND type = 'RunRequested'"
    ),
    "project": (
        "SELECT stream_id FROM events WHERE stream_id = $4 AND version = 1 "
        "AND type = 'ProjectCreated' UNION ALL SELECT stream_id FROM events "
        f"WHERE version = 1 AND data->>'project_id' = $4 AND type IN ({_types})"
    ),
}


def replay_sql(level: str) -> str:
    """The query of `replay`: $1 after, $2 up to, $3 limit, $4 the run, pipeline or project."""
    where = "position > $1 AND position <= $2"
    if level == "run":
        where += " AND stream_id = $4"
    elif level in _STREAMS_OF:
        where += f" AND stream_id IN ({_STREAMS_OF[level]})"
    return f"SELECT {COLUMNS} FROM events WHERE {where} ORDER BY position LIMIT $3"


async def replay(
    conn: Conn, level: str, target: str, after: int, upto: int, limit: int
) -> list[EventEnvelope]:
    """Current. The events of one watch level (`run`, `pipeline`, `project` or `all`) in
    `(after, upto]`, in position order, at most `limit`."""
    args: list[Any] = [after, upto, limit] + ([target] if level != "all" else [])
    return await current_envelopes(conn, await conn.fetch(replay_sql(level), *args))
