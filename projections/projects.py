"""The projects read model: one row per project, with the queries that list and show them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.project import ProjectStatus
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


class ProjectRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    slug: str
    description: str
    status: ProjectStatus
    created_at: datetime
    updated_at: datetime
    stream_version: int
    default_queue_timeout_s: int | None = None
    """For the project's steps that set no `queue_timeout_s`; None: the server's default."""
    degraded: bool = False
    """Events of it wait in the view's quarantine (`projections/degraded.py`)."""


PROJECT_COLUMNS = table_columns(ProjectRow)

DDL = """
CREATE TABLE {s}.projects (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL,
    description text NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    stream_version bigint NOT NULL,
    default_queue_timeout_s int
);
CREATE INDEX projects_created ON {s}.projects (created_at, id);
CREATE INDEX projects_name ON {s}.projects (name, id);
CREATE INDEX projects_slug ON {s}.projects (slug);
"""


class ProjectsProjection:
    name = "projects"
    version = 2
    event_types = frozenset(
        {"ProjectCreated", "ProjectRenamed", "ProjectArchived", "ProjectQueueTimeoutSet"}
    )

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        await fold_row_per_stream(
            conn, schema, "projects", events, _fold, first="ProjectCreated", columns=PROJECT_COLUMNS
        )


def _fold(row: Row, event: EventEnvelope) -> None:
    d = event.data
    at = occurred_at(d)
    if event.type == "ProjectCreated":
        row.update(
            id=event.stream_id,
            name=d["name"],
            slug=d["slug"],
            description=d["description"],
            status=ProjectStatus.ACTIVE,
            created_at=at,
            default_queue_timeout_s=None,
        )
    elif event.type == "ProjectRenamed":
        row["name"] = d["name"]
    elif event.type == "ProjectArchived":
        row["status"] = ProjectStatus.ARCHIVED
    elif event.type == "ProjectQueueTimeoutSet":
        row["default_queue_timeout_s"] = d["default_queue_timeout_s"]
    row["updated_at"] = at


PROJECT_SORTS = {"created_at": SortKey("created_at"), "name": SortKey("name", str)}


async def list_projects(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    *,
    project_ids: tuple[UUID, ...] | None,
    status: ProjectStatus | None = None,
    page: Page,
) -> PageResult[ProjectRow]:
    """The projects the caller may see (`project_ids`; None: all); default order `created_at`."""
    w = Where()
    w.within("r.id", project_ids)
    w.when(status and str(status), "r.status = {}")
    query = page_query(
        f"{ident(schema)}.projects r", w, page, PROJECT_SORTS, "created_at", row=_DEGRADED_ROW
    )
    return await fetch_page(conn, query, ProjectRow)


async def get_project(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, project_id: UUID
) -> ProjectRow | None:
    return await get_by_id(conn, schema, "projects", project_id, ProjectRow, row=_DEGRADED_ROW)


_DEGRADED_ROW = with_degraded(stream_degraded(ProjectsProjection.name))
