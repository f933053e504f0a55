"""The schedules read model: each active schedule trigger, since when it stands as it is, and
the last slot a run was requested for. The scheduler role reads it (`due_schedules`).

A schedule keeps its `since` across new versions of its pipeline while its own fields stay
the same, so editing a step does not forget a slot missed during downtime; changing the
schedule, or activating its pipeline again, starts it afresh from that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.trigger_schedule import schedule_key
from domain.trigger_spec import TriggerSpec
from projections.rows import ident, occurred_at

DDL = """
CREATE TABLE {s}.schedules (
    pipeline_id uuid NOT NULL,
    key text NOT NULL,
    project_id uuid NOT NULL,
    trigger jsonb NOT NULL,
    since timestamptz NOT NULL,
    PRIMARY KEY (pipeline_id, key)
);
CREATE TABLE {s}.pipelines (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    active boolean NOT NULL
);
CREATE TABLE {s}.fired (
    pipeline_id uuid NOT NULL,
    key text NOT NULL,
    last_slot timestamptz NOT NULL,
    PRIMARY KEY (pipeline_id, key)
);
"""

_STATUS = {"PipelineActivated": True, "PipelineDeactivated": False, "PipelineArchived": False}


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """One active schedule of an active pipeline, as the scheduler decides on it."""

    pipeline_id: UUID
    project_id: UUID
    key: str
    trigger: TriggerSpec
    since: datetime
    """Since when it stands as it is: slots before are none of its business."""
    last_slot: datetime | None
    """The latest slot a run was requested for (the view may lag: firing is idempotent)."""


class SchedulesProjection:
    name = "schedules"
    version = 1
    event_types = frozenset({"PipelineCreated", "PipelineVersionDefined", *_STATUS, "RunRequested"})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    def applies_nothing(self, event: EventEnvelope) -> bool:
        """A run no schedule fired leaves the view as it is."""
        return event.type == "RunRequested" and not event.data["trigger"].get("schedule")

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        s = ident(schema)
        for event in events:
            d, at = event.data, occurred_at(event.data)
            if event.type == "PipelineCreated":
                await conn.execute(
                    f"INSERT INTO {s}.pipelines VALUES ($1, $2, true)",
                    UUID(event.stream_id),
                    UUID(d["project_id"]),
                )
            if event.type in ("PipelineCreated", "PipelineVersionDefined"):
                await _define(conn, s, UUID(event.stream_id), d["definition"], at)
            elif (active := _STATUS.get(event.type)) is not None:
                await conn.execute(
                    f"UPDATE {s}.pipelines SET active = $2 WHERE id = $1",
                    UUID(event.stream_id),
                    active,
                )
                if active:  # slots while it was inactive are not caught up
                    await conn.execute(
                        f"UPDATE {s}.schedules SET since = $2::text::timestamptz"
                        " WHERE pipeline_id = $1",
                        UUID(event.stream_id),
                        at,
                    )
            elif event.type == "RunRequested" and d["trigger"].get("schedule"):
                await conn.execute(
                    f"INSERT INTO {s}.fired VALUES ($1, $2, $3::text::timestamptz)"
                    " ON CONFLICT (pipeline_id, key) DO UPDATE"
                    " SET last_slot = greatest(fired.last_slot, excluded.last_slot)",
                    UUID(d["pipeline_id"]),
                    d["trigger"]["schedule"],
                    d["trigger"]["slot"],
                )


async def _define(
    conn: asyncpg.Connection, s: str, pipeline_id: UUID, definition: dict[str, Any], at: str
) -> None:
    before = {
        r["key"]: (r["trigger"], r["since"])
        for r in await conn.fetch(
            f"SELECT key, trigger::text AS trigger, since::text AS since"
            f" FROM {s}.schedules WHERE pipeline_id = $1",
            pipeline_id,
        )
    }
    await conn.execute(f"DELETE FROM {s}.schedules WHERE pipeline_id = $1", pipeline_id)
    for raw in definition.get("triggers", ()):
        trigger = msgspec.convert(raw, TriggerSpec)
        if trigger.source != "schedule" or not trigger.active:
            continue
        key, text = schedule_key(trigger), msgspec.json.encode(trigger).decode()
        kept = before.get(key)
        same = kept is not None and msgspec.json.decode(kept[0]) == msgspec.json.decode(text)
        await conn.execute(
            f"INSERT INTO {s}.schedules SELECT $1, $2, p.project_id, $3::jsonb,"
            f" $4::text::timestamptz FROM {s}.pipelines p WHERE p.id = $1",
            pipeline_id,
            key,
            text,
            kept[1] if same and kept is not None else at,
        )


async def due_schedules(conn: asyncpg.Connection | asyncpg.Pool, schema: str) -> list[Schedule]:
    """Every active schedule of every active pipeline, with the last slot it fired."""
    s = ident(schema)
    text = await conn.fetchval(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('pipeline_id', c.pipeline_id, 'project_id',"
        " c.project_id, 'key', c.key, 'trigger', c.trigger, 'since', c.since,"
        " 'last_slot', f.last_slot)), '[]')::text"
        f" FROM {s}.schedules c JOIN {s}.pipelines p ON p.id = c.pipeline_id"
        f" LEFT JOIN {s}.fired f ON f.pipeline_id = c.pipeline_id AND f.key = c.key"
        " WHERE p.active"
    )
    return msgspec.json.decode(text, type=list[Schedule])
