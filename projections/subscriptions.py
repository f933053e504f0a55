"""The outbound subscriptions read model: a project's webhook subscriptions; never a secret."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.subscription import SubscriptionStatus
from projections.degraded import stream_degraded, table_columns, with_degraded
from projections.paging import Page, PageResult, SortKey, Where, fetch_page, get_by_id, page_query
from projections.rows import Row, fold_row_per_stream, ident, occurred_at


class SubscriptionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    project_id: UUID
    url: str
    event_types: tuple[str, ...]
    status: SubscriptionStatus
    disabled_reason: str
    parked: int
    """Deliveries given up on after their retries (each re-sendable)."""
    last_parked_at: datetime | None
    created_at: datetime
    updated_at: datetime
    stream_version: int
    degraded: bool = False


SUBSCRIPTION_COLUMNS = table_columns(SubscriptionRow)
_STATUS = {
    "SubscriptionDisabled": SubscriptionStatus.DISABLED,
    "SubscriptionEnabled": SubscriptionStatus.ENABLED,
    "SubscriptionDeleted": SubscriptionStatus.DELETED,
}

DDL = """
CREATE TABLE {s}.subscriptions (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    url text NOT NULL,
    event_types text[] NOT NULL,
    status text NOT NULL,
    disabled_reason text NOT NULL,
    parked integer NOT NULL,
    last_parked_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    stream_version bigint NOT NULL
);
CREATE INDEX subscriptions_project ON {s}.subscriptions (project_id, created_at, id);
CREATE INDEX subscriptions_created ON {s}.subscriptions (created_at, id);
CREATE INDEX subscriptions_live ON {s}.subscriptions (status) WHERE status = 'enabled';
"""


class SubscriptionsProjection:
    name = "subscriptions"
    version = 1
    event_types = frozenset({"SubscriptionCreated", "SubscriptionDeliveryParked", *_STATUS})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        await fold_row_per_stream(
            conn,
            schema,
            "subscriptions",
            events,
            _fold,
            first="SubscriptionCreated",
            columns=SUBSCRIPTION_COLUMNS,
        )


def _fold(row: Row, event: EventEnvelope) -> None:
    d, at = event.data, occurred_at(event.data)
    if event.type == "SubscriptionCreated":
        # Field by field: the event also carries the sealed secret.
        row.update(
            id=event.stream_id,
            project_id=d["project_id"],
            url=d["url"],
            event_types=d["event_types"],
            status=SubscriptionStatus.ENABLED,
            disabled_reason="",
            parked=0,
            last_parked_at=None,
            created_at=at,
        )
    elif event.type == "SubscriptionDeliveryParked":
        row.update(parked=row["parked"] + 1, last_parked_at=at)
    elif status := _STATUS.get(event.type):
        row.update(status=status, disabled_reason=d.get("reason", ""))
    row["updated_at"] = at


SUBSCRIPTION_SORTS = {"created_at": SortKey("created_at"), "updated_at": SortKey("updated_at")}
_DEGRADED_ROW = with_degraded(stream_degraded(SubscriptionsProjection.name))


async def list_subscriptions(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    status: tuple[SubscriptionStatus, ...] = (),
    page: Page,
) -> PageResult[SubscriptionRow]:
    w = Where()
    w.within("r.project_id", project_ids)
    w.one_of("r.status", tuple(map(str, status)), "text")
    source = f"{ident(schema)}.subscriptions r"
    query = page_query(source, w, page, SUBSCRIPTION_SORTS, "created_at", row=_DEGRADED_ROW)
    return await fetch_page(conn, query, SubscriptionRow)


async def get_subscription(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, subscription_id: UUID
) -> SubscriptionRow | None:
    return await get_by_id(
        conn, schema, "subscriptions", subscription_id, SubscriptionRow, row=_DEGRADED_ROW
    )


async def enabled_subscription_ids(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str
) -> list[UUID]:
    """Every enabled subscription: the deliverer's work when it starts (none before the
    projector has created the view: their creations then reach the deliverer as events)."""
    try:
        rows = await conn.fetch(
            f"SELECT id FROM {ident(schema)}.subscriptions WHERE status = 'enabled'"
            " ORDER BY created_at"
        )
    except asyncpg.UndefinedTableError:
        return []
    return [r["id"] for r in rows]
