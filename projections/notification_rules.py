"""The notification rules read model: a project's rules (channels name secrets, never hold one),
who last changed each, and how many of its notifications were parked. The deliverer's notifier
finds the rules an event concerns here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.notification_channel import Channel
from domain.notification_rule import RuleStatus
from projections.degraded import stream_degraded, table_columns, with_degraded
from projections.paging import Page, PageResult, SortKey, Where, fetch_page, get_by_id, page_query
from projections.rows import Row, fold_row_per_stream, ident, occurred_at


class RuleRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    project_id: UUID
    name: str
    triggers: tuple[str, ...]
    pipeline_id: UUID | None
    branch: str | None
    channel: Channel
    status: RuleStatus
    disabled_reason: str
    parked: int
    """Notifications given up on after their retries (each re-sendable)."""
    last_parked_at: datetime | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    stream_version: int
    degraded: bool = False


RULE_COLUMNS = table_columns(RuleRow)
_STATUS = {
    "NotificationRuleDisabled": RuleStatus.DISABLED,
    "NotificationRuleEnabled": RuleStatus.ENABLED,
    "NotificationRuleDeleted": RuleStatus.DELETED,
}
_DEFINED = ("NotificationRuleCreated", "NotificationRuleChanged")

DDL = """
CREATE TABLE {s}.notification_rules (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    name text NOT NULL,
    triggers text[] NOT NULL,
    pipeline_id uuid,
    branch text,
    channel jsonb NOT NULL,
    status text NOT NULL,
    disabled_reason text NOT NULL,
    parked integer NOT NULL,
    last_parked_at timestamptz,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    stream_version bigint NOT NULL
);
CREATE INDEX notification_rules_project ON {s}.notification_rules (project_id, created_at, id);
CREATE INDEX notification_rules_created ON {s}.notification_rules (created_at, id);
"""


class NotificationRulesProjection:
    name = "notification_rules"
    version = 1
    event_types = frozenset({*_DEFINED, "NotificationParked", *_STATUS})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        await fold_row_per_stream(
            conn,
            schema,
            "notification_rules",
            events,
            _fold,
            first="NotificationRuleCreated",
            columns=RULE_COLUMNS,
        )


def _fold(row: Row, event: EventEnvelope) -> None:
    d, at, by = event.data, occurred_at(event.data), event.metadata.actor or ""
    if event.type == "NotificationRuleCreated":
        row.update(
            id=event.stream_id,
            project_id=d["project_id"],
            status=RuleStatus.ENABLED,
            disabled_reason="",
            parked=0,
            last_parked_at=None,
            created_at=at,
            created_by=by,
        )
    if event.type in _DEFINED:
        row.update({f: d[f] for f in ("name", "triggers", "pipeline_id", "branch", "channel")})
    elif event.type == "NotificationParked":
        row.update(parked=row["parked"] + 1, last_parked_at=at)
    elif status := _STATUS.get(event.type):
        row.update(status=status, disabled_reason=d.get("reason", ""))
    row.update(updated_at=at, updated_by=by)


RULE_SORTS = {"created_at": SortKey("created_at"), "updated_at": SortKey("updated_at")}
_DEGRADED_ROW = with_degraded(stream_degraded(NotificationRulesProjection.name))


async def list_rules(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    status: tuple[RuleStatus, ...] = (),
    page: Page,
) -> PageResult[RuleRow]:
    w = Where()
    w.within("r.project_id", project_ids)
    w.one_of("r.status", tuple(map(str, status)), "text")
    source = f"{ident(schema)}.notification_rules r"
    query = page_query(source, w, page, RULE_SORTS, "created_at", row=_DEGRADED_ROW)
    return await fetch_page(conn, query, RuleRow)


async def get_rule(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, rule_id: UUID
) -> RuleRow | None:
    return await get_by_id(conn, schema, "notification_rules", rule_id, RuleRow, row=_DEGRADED_ROW)


_rows = msgspec.json.Decoder(list[RuleRow])


async def rules_for(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    trigger: str,
    project_id: UUID | None,
) -> list[RuleRow]:
    """The enabled rules with `trigger`: of `project_id`, or of every project when None."""
    found: Any = await conn.fetchval(
        f"SELECT coalesce(json_agg(r ORDER BY r.created_at, r.id), '[]')"
        f" FROM {ident(schema)}.notification_rules r WHERE r.status = 'enabled'"
        " AND $1 = ANY(r.triggers) AND ($2::uuid IS NULL OR r.project_id = $2)",
        trigger,
        project_id,
    )
    return _rows.decode(found.encode() if isinstance(found, str) else found)
