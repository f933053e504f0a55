"""The webhook deliveries read model: each verified delivery and what processing made of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.webhook_delivery import Outcome
from domain.webhook_source import Kind
from projections.degraded import stream_degraded, table_columns, with_degraded
from projections.paging import Page, PageResult, SortKey, Where, fetch_page, get_by_id, page_query
from projections.rows import MissingRow, Row, fold_row_per_stream, ident, occurred_at

PENDING = "pending"
"""The `outcome` filter's word for a delivery not processed yet (its outcome is null)."""


class WebhookDeliveryRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    """The delivery's stream id."""
    source_id: UUID
    project_id: UUID
    kind: Kind
    event: str
    """The provider's event kind, as received (`push`, `Pipeline Hook`, `notification`)."""
    delivery_id: str
    received_at: datetime
    outcome: Outcome | None
    """None until the process manager has processed it."""
    runs: tuple[UUID, ...]
    """The runs it started or updated."""
    reason: str
    processed_at: datetime | None
    stream_version: int
    degraded: bool = False
    """Events of it wait in the view's quarantine (`projections/degraded.py`)."""


COLUMNS = table_columns(WebhookDeliveryRow)
_encode = msgspec.json.Encoder().encode
FILLFACTOR = 40
"""Each row is written twice, received then processed, the second time some 60 bytes longer.
With 60% of a page kept free, the processed versions of all the rows of a page fit on it: HOT
updates, with no new entry in the table's four indexes (at 100, 6% were HOT in the bench)."""

DDL = """
CREATE TABLE {s}.webhook_deliveries (
    id uuid PRIMARY KEY,
    source_id uuid NOT NULL,
    project_id uuid NOT NULL,
    kind text NOT NULL,
    event text NOT NULL,
    delivery_id text NOT NULL,
    received_at timestamptz NOT NULL,
    outcome text,
    runs uuid[] NOT NULL,
    reason text NOT NULL,
    processed_at timestamptz,
    stream_version bigint NOT NULL
) WITH (fillfactor = {fillfactor});
CREATE INDEX webhook_deliveries_received ON {s}.webhook_deliveries (received_at, id);
CREATE INDEX webhook_deliveries_source ON {s}.webhook_deliveries (source_id, received_at, id);
CREATE INDEX webhook_deliveries_project ON {s}.webhook_deliveries (project_id, received_at, id);
"""


class WebhookDeliveriesProjection:
    name = "webhook_deliveries"
    version = 2  # v2: the table's fillfactor (a rebuild makes it anew)
    event_types = frozenset({"WebhookReceived", "WebhookDeliveryProcessed"})
    unread = {"WebhookReceived": frozenset({"payload"})}
    """The raw body (personal: committers, senders) stays sealed in the feed: nothing here
    reads it, and where the keys are installed (`flowledger up`) opening it cost about 55 us
    of CPU a delivery (the key read, AES-GCM, inflating 8.8 KB)."""

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema), fillfactor=FILLFACTOR)

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        received = {e.stream_id for e in events if e.type == "WebhookReceived"}
        await fold_row_per_stream(
            conn,
            schema,
            "webhook_deliveries",
            [e for e in events if e.stream_id in received],
            _fold,
            first="WebhookReceived",
            columns=COLUMNS,
        )
        await _record_outcomes(conn, schema, [e for e in events if e.stream_id not in received])


async def _record_outcomes(
    conn: asyncpg.Connection, schema: str, outcomes: Sequence[EventEnvelope]
) -> None:
    """The outcomes of deliveries received in earlier batches (most: the intake commits them
    after the API committed the delivery), written over their rows by one UPDATE. Loading the
    rows to upsert them whole was a statement more per batch, and the upsert's insert attempt
    more work in PostgreSQL than the HOT update it ended in."""
    if not outcomes:
        return
    # A later outcome of a delivery replaces every field an earlier one set.
    last = {e.stream_id: e for e in outcomes}
    rows = [{"id": e.stream_id, **_outcome(e), "stream_version": e.version} for e in last.values()]
    table = f"{ident(schema)}.webhook_deliveries"
    status = await conn.execute(
        f"UPDATE {table} d SET outcome = u.outcome, runs = u.runs, reason = u.reason, "
        f"processed_at = u.processed_at, stream_version = u.stream_version "
        f"FROM json_populate_recordset(NULL::{table}, $1::text::json) u WHERE d.id = u.id",
        _encode(rows).decode(),
    )
    if status != f"UPDATE {len(last)}":
        ids = list(last)
        found = {
            r["id"]
            for r in await conn.fetch(f"SELECT id FROM {table} WHERE id = ANY($1::uuid[])", ids)
        }
        event = next(e for e in outcomes if UUID(e.stream_id) not in found)
        raise MissingRow(
            f"webhook_deliveries: {event.type} at {event.position} before any WebhookReceived"
        )


def _fold(row: Row, event: EventEnvelope) -> None:
    d = event.data
    if event.type == "WebhookReceived":
        # Picked field by field: the raw payload (up to 25 MiB) stays in the event.
        row.update(
            id=event.stream_id,
            source_id=d["source_id"],
            project_id=d["project_id"],
            kind=d["source_kind"],
            event=d["event"],
            delivery_id=d["delivery_id"],
            received_at=occurred_at(d),
            outcome=None,
            runs=[],
            reason="",
            processed_at=None,
        )
    else:
        row.update(_outcome(event))


def _outcome(event: EventEnvelope) -> Row:
    d = event.data
    return {
        "outcome": d["outcome"],
        "runs": d["runs"],
        "reason": d["reason"],
        "processed_at": occurred_at(d),
    }


WEBHOOK_DELIVERY_SORTS = {
    "received_at": SortKey("received_at"),
    "processed_at": SortKey("processed_at", nullable=True),
}
"""The `order_by` names list_webhook_deliveries takes; default `received_at`."""


class DeliveryFilters(msgspec.Struct, frozen=True, kw_only=True):
    project_ids: tuple[UUID, ...] | None
    """The caller's reach: None is every project."""
    source_id: UUID | None = None
    outcomes: tuple[str, ...] = ()
    """Outcomes, or `pending` for the unprocessed."""
    events: tuple[str, ...] = ()
    kind: str | None = None
    delivery_id: str | None = None
    received_after: datetime | None = None
    received_before: datetime | None = None


async def list_webhook_deliveries(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, filters: DeliveryFilters, page: Page
) -> PageResult[WebhookDeliveryRow]:
    f, w = filters, Where()
    w.within("r.project_id", f.project_ids)
    w.when(f.source_id, "r.source_id = {}")
    w.when(f.kind, "r.kind = {}")
    w.when(f.delivery_id, "r.delivery_id = {}")
    w.one_of("r.event", f.events, "text")
    outcomes = tuple(o for o in f.outcomes if o != PENDING)
    if PENDING in f.outcomes:
        w.add("(r.outcome IS NULL OR r.outcome = ANY({}::text[]))", list(outcomes))
    else:
        w.one_of("r.outcome", outcomes, "text")
    w.when(f.received_after, "r.received_at >= {}")
    w.when(f.received_before, "r.received_at < {}")
    source = f"{ident(schema)}.webhook_deliveries r"
    query = page_query(source, w, page, WEBHOOK_DELIVERY_SORTS, "received_at", row=_DEGRADED_ROW)
    return await fetch_page(conn, query, WebhookDeliveryRow)


async def get_webhook_delivery(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, delivery_id: UUID
) -> WebhookDeliveryRow | None:
    return await get_by_id(
        conn, schema, "webhook_deliveries", delivery_id, WebhookDeliveryRow, row=_DEGRADED_ROW
    )


_DEGRADED_ROW = with_degraded(stream_degraded(WebhookDeliveriesProjection.name))
