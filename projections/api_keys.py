"""The API keys read model: who holds which scopes where; never the secret nor its hash."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from domain.api_key import ApiKeyStatus
from domain.envelope import EventEnvelope
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


class ApiKeyRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    project_id: UUID | None
    """None: the key acts on every project."""
    scopes: tuple[str, ...]
    prefix: str
    """The token's public start, to recognise a key; not a secret."""
    status: ApiKeyStatus
    expires_at: datetime | None
    issued_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    revoked_reason: str | None
    stream_version: int
    degraded: bool = False
    """Events of it wait in the view's quarantine (`projections/degraded.py`)."""


API_KEY_COLUMNS = table_columns(ApiKeyRow)

DDL = """
CREATE TABLE {s}.api_keys (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    project_id uuid,
    scopes text[] NOT NULL,
    prefix text NOT NULL,
    status text NOT NULL,
    expires_at timestamptz,
    issued_by text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_by text,
    revoked_reason text,
    stream_version bigint NOT NULL
);
CREATE INDEX api_keys_project ON {s}.api_keys (project_id, created_at, id);
CREATE INDEX api_keys_created ON {s}.api_keys (created_at, id);
"""


class ApiKeysProjection:
    name = "api_keys"
    version = 1
    event_types = frozenset({"ApiKeyIssued", "ApiKeyRevoked"})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        await fold_row_per_stream(
            conn, schema, "api_keys", events, _fold, first="ApiKeyIssued", columns=API_KEY_COLUMNS
        )


def _fold(row: Row, event: EventEnvelope) -> None:
    d = event.data
    at = occurred_at(d)
    if event.type == "ApiKeyIssued":
        # Picked field by field: the event also carries the secret's hash.
        row.update(
            id=event.stream_id,
            name=d["name"],
            project_id=d["project_id"],
            scopes=d["scopes"],
            prefix=d["prefix"],
            status=ApiKeyStatus.ACTIVE,
            expires_at=d["expires_at"],
            issued_by=d["issued_by"],
            created_at=at,
            revoked_at=None,
            revoked_by=None,
            revoked_reason=None,
        )
    else:
        row.update(
            status=ApiKeyStatus.REVOKED,
            revoked_at=at,
            revoked_by=d["revoked_by"],
            revoked_reason=d["reason"],
        )


API_KEY_SORTS = {"created_at": SortKey("created_at"), "name": SortKey("name", str)}


async def list_api_keys(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    status: ApiKeyStatus | None = None,
    page: Page,
) -> PageResult[ApiKeyRow]:
    """Keys of the projects the caller may see; keys for every project only when it sees all."""
    w = Where()
    w.within("r.project_id", project_ids)
    w.when(status and str(status), "r.status = {}")
    query = page_query(
        f"{ident(schema)}.api_keys r", w, page, API_KEY_SORTS, "created_at", row=_DEGRADED_ROW
    )
    return await fetch_page(conn, query, ApiKeyRow)


async def get_api_key(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, key_id: UUID
) -> ApiKeyRow | None:
    return await get_by_id(conn, schema, "api_keys", key_id, ApiKeyRow, row=_DEGRADED_ROW)


_DEGRADED_ROW = with_degraded(stream_degraded(ApiKeysProjection.name))
