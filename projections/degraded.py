"""Which read-model rows readers should not trust yet: those with events in the quarantine.

A row is *degraded* while an event of its stream waits in `projection_quarantine` for the
view that built it: the row is missing that event and every later one of its stream. Query
functions splice these expressions into their SELECT so every answer carries `degraded`.
"""

from __future__ import annotations

import msgspec

from projections.checkpoints import check_name

# A stream id that is not a uuid cannot name a uuid row; casting it would fail the query.
_AS_UUID = (
    "CASE WHEN q.stream_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' "
    "THEN q.stream_id::uuid END"
)


def stream_degraded(projection: str, stream_id: str = "r.id") -> str:
    """SQL: whether the stream `stream_id` (an expression) has events quarantined in
    `projection`. The row a stream builds (a run, a pipeline) shares its id."""
    name = check_name(projection)
    return (
        "EXISTS (SELECT 1 FROM projection_quarantine q "
        f"WHERE q.projection = '{name}' AND q.stream_id = ({stream_id})::text)"
    )


def owner_degraded(projection: str, members: str, column: str, owner: str = "r.id") -> str:
    """SQL: like `stream_degraded`, or a member stream of the owner is quarantined: `members`
    is a table whose rows `(id uuid, <column> uuid)` name each member's owner (a pipeline's
    runs: `rm_pipelines.runs`, `pipeline_id`)."""
    name = check_name(projection)
    return (
        "EXISTS (SELECT 1 FROM projection_quarantine q "
        f"WHERE q.projection = '{name}' AND (q.stream_id = ({owner})::text OR EXISTS ("
        f"SELECT 1 FROM {members} m WHERE m.id = {_AS_UUID} AND m.{column} = {owner})))"
    )


def any_degraded(projection: str, streams: str) -> str:
    """SQL: whether any stream of `streams` (a subquery of text ids) has events quarantined in
    `projection`: for an answer built from several streams (a runner and its jobs' runs)."""
    name = check_name(projection)
    return (
        "EXISTS (SELECT 1 FROM projection_quarantine q "
        f"WHERE q.projection = '{name}' AND q.stream_id IN ({streams}))"
    )


def with_degraded(flag: str, row: str = "to_jsonb(r)") -> str:
    """SQL: the row's JSON with `degraded` added."""
    return f"({row} || jsonb_build_object('degraded', {flag}))"


def table_columns(row_type: type[msgspec.Struct]) -> tuple[str, ...]:
    """A row Struct's fields that are columns of its table: all but `degraded`."""
    return tuple(f for f in row_type.__struct_fields__ if f != "degraded")
