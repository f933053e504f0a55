"""The webhook sources read model: a project's integrations; never a secret, sealed or not."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.webhook_source import Kind, WebhookSourceStatus
from projections.degraded import stream_degraded, table_columns, with_degraded
from projections.paging import (
    Page,
    PageResult,
    SortKey,
    Where,
    fetch_page,
    get_by_id,
    page_query,
)
from projections.rows import Row, fold_row_per_stream, ident, occurred_at


class WebhookSourceRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    project_id: UUID
    kind: Kind
    name: str
    status: WebhookSourceStatus
    disabled_reason: str
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None
    """When its secret was last replaced."""
    previous_valid_until: datetime | None
    """Until when the secret before the last rotation is still accepted."""
    stream_version: int
    degraded: bool = False
    """Events of it wait in the view's quarantine (`projections/degraded.py`)."""


WEBHOOK_SOURCE_COLUMNS = table_columns(WebhookSourceRow)
_STATUS = {
    "WebhookSourceDisabled": WebhookSourceStatus.DISABLED,
    "WebhookSourceEnabled": WebhookSourceStatus.ENABLED,
}
RETIRED = "WebhookPreviousSecretRetired"
"""A new event type here: no older event of it exists, so the view needs no rebuild."""

DDL = """
CREATE TABLE {s}.webhook_sources (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    status text NOT NULL,
    disabled_reason text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    rotated_at timestamptz,
    previous_valid_until timestamptz,
    stream_version bigint NOT NULL
);
CREATE INDEX webhook_sources_project ON {s}.webhook_sources (project_id, created_at, id);
CREATE INDEX webhook_sources_created ON {s}.webhook_sources (created_at, id);
"""


class WebhookSourcesProjection:
    name = "webhook_sources"
    version = 1
    event_types = frozenset({"WebhookSourceRegistered", "WebhookSecretRotated", *_STATUS, RETIRED})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        await fold_row_per_stream(
            conn,
            schema,
            "webhook_sources",
            events,
            _fold,
            first="WebhookSourceRegistered",
            columns=WEBHOOK_SOURCE_COLUMNS,
        )


def _fold(row: Row, event: EventEnvelope) -> None:
    d = event.data
    at = occurred_at(d)
    if event.type == "WebhookSourceRegistered":
        # Picked field by field: the event also carries the sealed secret.
        row.update(
            id=event.stream_id,
            project_id=d["project_id"],
            kind=d["kind"],
            name=d["name"],
            status=WebhookSourceStatus.ENABLED,
            disabled_reason="",
            created_at=at,
            rotated_at=None,
            previous_valid_until=None,
        )
    elif event.type == "WebhookSecretRotated":
        row.update(rotated_at=at, previous_valid_until=d["previous_valid_until"])
    elif event.type == RETIRED:
        row.update(previous_valid_until=None)
    elif status := _STATUS.get(event.type):
        row.update(status=status, disabled_reason=d.get("reason", ""))
    row["updated_at"] = at


WEBHOOK_SOURCE_SORTS = {"created_at": SortKey("created_at"), "name": SortKey("name", str)}


async def list_webhook_sources(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    kind: Kind | None = None,
    status: WebhookSourceStatus | None = None,
    page: Page,
) -> PageResult[WebhookSourceRow]:
    """Sources of the projects the caller may see; default order `created_at`."""
    w = Where()
    w.within("r.project_id", project_ids)
    w.when(kind, "r.kind = {}")
    w.when(status and str(status), "r.status = {}")
    source = f"{ident(schema)}.webhook_sources r"
    query = page_query(source, w, page, WEBHOOK_SOURCE_SORTS, "created_at", row=_DEGRADED_ROW)
    return await fetch_page(conn, query, WebhookSourceRow)


async def get_webhook_source(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, source_id: UUID
) -> WebhookSourceRow | None:
    return await get_by_id(
        conn, schema, "webhook_sources", source_id, WebhookSourceRow, row=_DEGRADED_ROW
    )


_DEGRADED_ROW = with_degraded(stream_degraded(WebhookSourcesProjection.name))


async def previous_secrets_due(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, now: datetime, limit: int = 500
) -> list[UUID]:
    """Sources whose previous secret's grace period is over at `now` (not retired yet)."""
    rows = await conn.fetch(
        f"SELECT id FROM {ident(schema)}.webhook_sources WHERE previous_valid_until <= $1 "
        "ORDER BY previous_valid_until LIMIT $2",
        now,
        limit,
    )
    return [row["id"] for row in rows]
