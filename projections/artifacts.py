"""The artifacts read model: each run's stored artifacts and workspaces, and every cache entry.

It serves the artifact list and download routes, the sweeper's expired artifacts, and the
caches' least-recently-used order for eviction (a hit moves an entry's `last_used_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from projections.rows import ident, occurred_at


class ArtifactRow(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    project_id: UUID
    name: str
    kind: str
    """`artifact`, or `workspace`: a step's workspace, kept for dependents on other runners."""
    step: str
    attempt: int
    format: str
    """`file`: the one file the step named; `tar`: the matched files as a tar stream."""
    path: str
    """For a `file`: its path in the workspace."""
    size: int
    sha256: str
    object_key: str
    uploaded_at: datetime
    expires_at: datetime
    deleted_at: datetime | None
    deleted_reason: str | None


class CacheRow(msgspec.Struct, frozen=True, kw_only=True):
    object_key: str
    project_id: UUID
    pipeline_id: UUID
    branch: str
    key: str
    size: int
    run_id: UUID
    saved_at: datetime
    last_used_at: datetime


DDL = """
CREATE TABLE {s}.artifacts (
    run_id uuid NOT NULL,
    project_id uuid NOT NULL,
    name text NOT NULL,
    kind text NOT NULL,
    step text NOT NULL,
    attempt integer NOT NULL,
    format text NOT NULL,
    path text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    object_key text NOT NULL,
    uploaded_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    deleted_at timestamptz,
    deleted_reason text,
    PRIMARY KEY (run_id, kind, name)
);
CREATE INDEX artifacts_expiry ON {s}.artifacts (expires_at) WHERE deleted_at IS NULL;
CREATE TABLE {s}.caches (
    object_key text PRIMARY KEY,
    project_id uuid NOT NULL,
    pipeline_id uuid NOT NULL,
    branch text NOT NULL,
    key text NOT NULL,
    size bigint NOT NULL,
    run_id uuid NOT NULL,
    saved_at timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL
);
CREATE INDEX caches_lru ON {s}.caches (project_id, last_used_at);
"""


class ArtifactsProjection:
    name = "artifacts"
    version = 1
    event_types = frozenset(
        {"ArtifactUploaded", "ArtifactDeleted", "CacheSaved", "CacheRestored", "CacheEvicted"}
    )

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        s = ident(schema)
        for event in events:
            if event.type in self.event_types:
                await _APPLY[event.type](conn, s, UUID(event.stream_id), event.data)


async def _uploaded(conn: asyncpg.Connection, s: str, run_id: UUID, d: dict[str, Any]) -> None:
    at = datetime.fromisoformat(occurred_at(d))
    await conn.execute(
        f"INSERT INTO {s}.artifacts VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13, NULL, NULL) ON CONFLICT (run_id, kind, name) DO UPDATE SET step = $5, attempt = $6, "
        "format = $7, path = $8, size = $9, sha256 = $10, object_key = $11, uploaded_at = $12, "
        "expires_at = $13, deleted_at = NULL, deleted_reason = NULL",
        run_id, UUID(d["project_id"]), d["name"], d["kind"], d["step"], d["attempt"],
        d["format"], d["path"], d["size"], d["sha256"], d["object_key"], at,
        at + timedelta(days=d["retention_days"]),
    )  # fmt: skip


async def _deleted(conn: asyncpg.Connection, s: str, run_id: UUID, d: dict[str, Any]) -> None:
    await conn.execute(
        f"UPDATE {s}.artifacts SET deleted_at = $4, deleted_reason = $5 "
        "WHERE run_id = $1 AND kind = $2 AND name = $3",
        run_id, d["kind"], d["name"], datetime.fromisoformat(occurred_at(d)), d["reason"],
    )  # fmt: skip


async def _saved(conn: asyncpg.Connection, s: str, run_id: UUID, d: dict[str, Any]) -> None:
    at = datetime.fromisoformat(occurred_at(d))
    await conn.execute(
        f"INSERT INTO {s}.caches VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
        "ON CONFLICT (object_key) DO UPDATE SET size = $6, run_id = $7, saved_at = $8, "
        "last_used_at = $8",
        d["object_key"], UUID(d["project_id"]), UUID(d["pipeline_id"]), d["branch"], d["key"],
        d["size"], run_id, at,
    )  # fmt: skip


async def _restored(conn: asyncpg.Connection, s: str, run_id: UUID, d: dict[str, Any]) -> None:
    if d["hit"]:
        at = datetime.fromisoformat(occurred_at(d))
        await conn.execute(
            f"UPDATE {s}.caches SET last_used_at = greatest(last_used_at, $2) "
            "WHERE object_key = $1",
            d["object_key"],
            at,
        )


async def _evicted(conn: asyncpg.Connection, s: str, run_id: UUID, d: dict[str, Any]) -> None:
    # Only the entry that run saved: a later save under the same key is another entry.
    await conn.execute(
        f"DELETE FROM {s}.caches WHERE object_key = $1 AND run_id = $2", d["object_key"], run_id
    )


_APPLY = {
    "ArtifactUploaded": _uploaded,
    "ArtifactDeleted": _deleted,
    "CacheSaved": _saved,
    "CacheRestored": _restored,
    "CacheEvicted": _evicted,
}


async def run_artifacts(
    conn: Any, schema: str, run_id: UUID, kind: str = "artifact"
) -> list[ArtifactRow]:
    """The run's artifacts (or workspaces), deleted ones too, with when and why."""
    rows = await conn.fetch(
        f"SELECT * FROM {ident(schema)}.artifacts WHERE run_id = $1 AND kind = $2 "
        "ORDER BY uploaded_at, name",
        run_id,
        kind,
    )
    return [ArtifactRow(**dict(row)) for row in rows]


async def expired(conn: Any, schema: str, now: datetime, limit: int) -> list[ArtifactRow]:
    rows = await conn.fetch(
        f"SELECT * FROM {ident(schema)}.artifacts WHERE deleted_at IS NULL AND expires_at <= $1 "
        "ORDER BY expires_at LIMIT $2",
        now,
        limit,
    )
    return [ArtifactRow(**dict(row)) for row in rows]


async def over_limit(conn: Any, schema: str, max_bytes: int) -> list[CacheRow]:
    """Per project, the least recently used entries to remove to get under `max_bytes`."""
    rows = await conn.fetch(
        f"SELECT * FROM (SELECT c.*, sum(size) OVER (PARTITION BY project_id ORDER BY "
        f"last_used_at DESC, object_key) AS kept FROM {ident(schema)}.caches c) ranked "
        "WHERE kept > $1 ORDER BY last_used_at",
        max_bytes,
    )
    return [CacheRow(**{k: v for k, v in dict(row).items() if k != "kept"}) for row in rows]
