"""The project secrets read model: names, versions, environment, who set them and when.

Never a value (no event holds one), and no fingerprint either: a listing has no use for it.
A deleted secret leaves the list; setting it again brings it back with its next version.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from projections.degraded import stream_degraded, table_columns, with_degraded
from projections.paging import Page, PageResult, SortKey, Where, fetch_page, page_query
from projections.rows import Row, fold_row_per_stream, ident, occurred_at


class SecretRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    project_id: UUID
    name: str
    environment: str | None
    """None: not bound to an environment; a step in that environment prefers its own."""
    secret_version: int
    deleted: bool
    created_at: datetime
    updated_at: datetime
    updated_by: str
    stream_version: int
    pipeline_id: UUID | None = None
    degraded: bool = False


class SecretItem(msgspec.Struct, frozen=True, kw_only=True):
    """A secret as the API lists it."""

    name: str
    environment: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str
    pipeline_id: UUID | None = None
    """The pipeline it is bound to; environment and pipeline_id both null: project-wide."""
    degraded: bool = False


SECRET_COLUMNS = table_columns(SecretRow)

DDL = """
CREATE TABLE {s}.secrets (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    name text NOT NULL,
    environment text,
    secret_version integer NOT NULL,
    deleted boolean NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    stream_version bigint NOT NULL,
    pipeline_id uuid
);
CREATE INDEX secrets_project_name ON {s}.secrets (project_id, name, id);
"""


class SecretsProjection:
    name = "secrets"
    version = 2  # v2: pipeline_id
    event_types = frozenset({"SecretCreated", "SecretSet", "SecretDeleted"})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        await fold_row_per_stream(
            conn, schema, "secrets", events, _fold, first="SecretCreated", columns=SECRET_COLUMNS
        )


def _fold(row: Row, event: EventEnvelope) -> None:
    d = event.data
    at = occurred_at(d)
    if event.type == "SecretCreated":
        row.update(
            id=event.stream_id,
            project_id=d["project_id"],
            name=d["name"],
            environment=d["environment"],
            pipeline_id=d.get("pipeline_id"),
            created_at=at,
        )
    row.update(
        secret_version=d["secret_version"],
        deleted=event.type == "SecretDeleted",
        updated_at=at,
        updated_by=d["by"],
    )


SECRET_SORTS = {"name": SortKey("name", str), "updated_at": SortKey("updated_at")}


async def list_secrets(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, *, project_id: UUID, page: Page
) -> PageResult[SecretItem]:
    """The project's secrets that hold a value; default order `name`, ascending."""
    w = Where()
    w.add("r.project_id = {}", project_id)
    w.add("NOT r.deleted")
    row = with_degraded(
        stream_degraded(SecretsProjection.name),
        "jsonb_build_object('id', r.id, 'name', r.name, 'environment', r.environment,"
        " 'version', r.secret_version, 'created_at', r.created_at, 'updated_at', r.updated_at,"
        " 'updated_by', r.updated_by, 'pipeline_id', r.pipeline_id)",
    )
    query = page_query(f"{ident(schema)}.secrets r", w, page, SECRET_SORTS, "name", row=row)
    result = await fetch_page(conn, query, _Listed)
    return PageResult(
        items=tuple(
            SecretItem(**{k: v for k, v in msgspec.structs.asdict(i).items() if k != "id"})
            for i in result.items
        ),
        next_cursor=result.next_cursor,
        total=result.total,
    )


class _Listed(SecretItem, frozen=True, kw_only=True):
    id: UUID
