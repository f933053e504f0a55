"""The pipelines read model: current definition, every version, last run and run counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.pipeline import PipelineStatus
from domain.run_values import RunStatus
from domain.trigger_spec import TriggerSpec
from projections.degraded import owner_degraded, table_columns, with_degraded
from projections.filters import PipelineFilters, like_pattern
from projections.paging import (
    Page,
    PageQuery,
    PageResult,
    SortKey,
    Where,
    fetch_page,
    get_by_id,
    page_query,
)
from projections.rows import Row, ident, load, occurred_at, save


class PipelineRow(msgspec.Struct, frozen=True, kw_only=True):
    """A pipeline as listed: its current definition, the last run it started, run counts."""

    id: UUID
    project_id: UUID
    name: str
    description: str
    tags: tuple[str, ...]
    current_version: int
    definition: dict[str, Any]
    """The current version's definition, as defined."""
    active: bool
    status: PipelineStatus
    created_at: datetime
    updated_at: datetime
    """Its last change of definition or status (runs do not count)."""
    stream_version: int
    last_run_id: UUID | None
    last_run_status: RunStatus | None
    last_run_at: datetime | None
    """When the last run requested reached its current status."""
    runs_total: int
    runs_succeeded: int
    runs_failed: int
    runs_cancelled: int
    runs_timed_out: int
    degraded: bool = False
    """Events of this pipeline, or of a run of it, wait in the view's quarantine: the counts or
    the definition may miss them (not a column: the queries ask `projection_quarantine`)."""


class PipelineTriggers(msgspec.Struct, frozen=True, kw_only=True):
    """A pipeline with the triggers of its current version: what a webhook delivery may start."""

    pipeline_id: UUID
    name: str
    active: bool
    triggers: tuple[TriggerSpec, ...] = ()


class PipelineVersionRow(msgspec.Struct, frozen=True, kw_only=True):
    pipeline_id: UUID
    version: int
    definition: dict[str, Any]
    defined_at: datetime


class PipelineStatusRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    status: PipelineStatus
    active: bool
    current_version: int
    last_run_id: UUID | None
    last_run_status: RunStatus | None
    last_run_at: datetime | None
    runs_total: int
    runs_active: int
    """Requested and not finished yet: queued, running or cancelling."""
    runs_succeeded: int
    runs_failed: int
    runs_cancelled: int
    runs_timed_out: int


PIPELINE_COLUMNS = table_columns(PipelineRow)
VERSION_COLUMNS = PipelineVersionRow.__struct_fields__
_FINISHED = {
    "RunSucceeded": RunStatus.SUCCEEDED,
    "RunFailed": RunStatus.FAILED,
    "RunCancelled": RunStatus.CANCELLED,
    "RunTimedOut": RunStatus.TIMED_OUT,
}
_RUN_STATUS = {
    **_FINISHED,
    "RunStarted": RunStatus.RUNNING,
    "RunCancelRequested": RunStatus.CANCELLING,
}
_PIPELINE_STATUS = {
    "PipelineActivated": PipelineStatus.ACTIVE,
    "PipelineDeactivated": PipelineStatus.INACTIVE,
    "PipelineArchived": PipelineStatus.ARCHIVED,
}

DDL = """
CREATE TABLE {s}.pipelines (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    tags text[] NOT NULL,
    current_version integer NOT NULL,
    definition jsonb NOT NULL,
    active boolean NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    stream_version bigint NOT NULL,
    last_run_id uuid,
    last_run_status text,
    last_run_at timestamptz,
    runs_total integer NOT NULL,
    runs_succeeded integer NOT NULL,
    runs_failed integer NOT NULL,
    runs_cancelled integer NOT NULL,
    runs_timed_out integer NOT NULL
);
CREATE INDEX pipelines_project ON {s}.pipelines (project_id, created_at, id);
CREATE INDEX pipelines_created ON {s}.pipelines (created_at, id);
CREATE INDEX pipelines_updated ON {s}.pipelines (updated_at, id);
CREATE INDEX pipelines_name ON {s}.pipelines (name, id);
CREATE INDEX pipelines_last_run ON {s}.pipelines (last_run_at NULLS FIRST, id);
CREATE INDEX pipelines_tags ON {s}.pipelines USING gin (tags);
CREATE TABLE {s}.versions (
    pipeline_id uuid NOT NULL,
    version integer NOT NULL,
    definition jsonb NOT NULL,
    defined_at timestamptz NOT NULL,
    PRIMARY KEY (pipeline_id, version)
);
-- Which pipeline each run belongs to: run events name only their run.
CREATE TABLE {s}.runs (
    id uuid PRIMARY KEY,
    pipeline_id uuid NOT NULL
);
"""


class PipelinesProjection:
    name = "pipelines"
    version = 1
    event_types = frozenset(
        {
            "PipelineCreated",
            "PipelineVersionDefined",
            *_PIPELINE_STATUS,
            "RunRequested",
            *_RUN_STATUS,
        }
    )

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        events = [e for e in events if e.type in self.event_types]
        runs = {
            r["id"]: r["pipeline_id"]
            for r in await load(
                conn, schema, "runs", "id", {e.stream_id for e in events if e.type in _RUN_STATUS}
            )
        }
        new_runs: list[Row] = []
        wanted = {e.stream_id for e in events if e.stream_type == "pipeline"}
        wanted |= {e.data["pipeline_id"] for e in events if e.type == "RunRequested"}
        wanted |= set(runs.values())
        pipelines = {p["id"]: p for p in await load(conn, schema, "pipelines", "id", wanted)}
        versions: list[Row] = []
        for event in events:
            d = event.data
            at = occurred_at(d)
            if event.type == "PipelineCreated":
                pipelines[event.stream_id] = _created(event.stream_id, d, at)
            if event.type in ("PipelineCreated", "PipelineVersionDefined"):
                versions.append(
                    {
                        "pipeline_id": event.stream_id,
                        "version": d["version"],
                        "definition": d["definition"],
                        "defined_at": at,
                    }
                )
                _define(pipelines[event.stream_id], d, at)
            elif status := _PIPELINE_STATUS.get(event.type):
                pipelines[event.stream_id].update(
                    status=status, active=status is PipelineStatus.ACTIVE, updated_at=at
                )
            elif event.type == "RunRequested":
                runs[event.stream_id] = d["pipeline_id"]
                new_runs.append({"id": event.stream_id, "pipeline_id": d["pipeline_id"]})
                pipeline = pipelines[d["pipeline_id"]]
                pipeline["runs_total"] += 1
                pipeline.update(
                    last_run_id=event.stream_id, last_run_status=RunStatus.QUEUED, last_run_at=at
                )
            else:
                pipeline = pipelines[runs[event.stream_id]]
                status = _RUN_STATUS[event.type]
                if status in _FINISHED.values():
                    pipeline[f"runs_{status}"] += 1
                if pipeline["last_run_id"] == event.stream_id:
                    pipeline.update(last_run_status=status, last_run_at=at)
            if event.stream_type == "pipeline":
                pipelines[event.stream_id]["stream_version"] = event.version
        await save(conn, schema, "runs", new_runs, key=("id",), columns=("id", "pipeline_id"))
        await save(
            conn,
            schema,
            "versions",
            versions,
            key=("pipeline_id", "version"),
            columns=VERSION_COLUMNS,
        )
        await save(
            conn, schema, "pipelines", pipelines.values(), key=("id",), columns=PIPELINE_COLUMNS
        )


def _created(pipeline_id: str, d: dict[str, Any], at: str) -> Row:
    return {
        "id": pipeline_id,
        "project_id": d["project_id"],
        "status": PipelineStatus.ACTIVE,
        "active": True,
        "created_at": at,
        "last_run_id": None,
        "last_run_status": None,
        "last_run_at": None,
        "runs_total": 0,
        **{f"runs_{s}": 0 for s in _FINISHED.values()},
    }


def _define(pipeline: Row, d: dict[str, Any], at: str) -> None:
    definition = d["definition"]
    pipeline.update(
        name=definition["name"],
        description=definition.get("description", ""),
        tags=definition.get("tags", []),
        current_version=d["version"],
        definition=definition,
        updated_at=at,
    )


# Queries

PIPELINE_SORTS = {
    "created_at": SortKey("created_at"),
    "updated_at": SortKey("updated_at"),
    "name": SortKey("name", str),
    "last_run_at": SortKey("last_run_at", nullable=True),
}
"""The `order_by` names list_pipelines takes; default `created_at`."""


def list_pipelines_query(schema: str, filters: PipelineFilters, page: Page) -> PageQuery:
    f, w = filters, Where()
    w.within("r.project_id", f.project_ids)
    w.when(f.name_contains and like_pattern(f.name_contains), "r.name ILIKE {} ESCAPE '\\'")
    w.when(f.tags and list(f.tags), "r.tags @> {}::text[]")
    if f.is_active is not None:
        w.add("r.active = {}", f.is_active)
    w.one_of("r.status", tuple(map(str, f.status)), "text")
    if f.version is not None:
        w.add("r.current_version = {}", f.version)
    for column, after, before in (
        ("created_at", f.created_after, f.created_before),
        ("updated_at", f.updated_after, f.updated_before),
    ):
        w.when(after, f"r.{column} >= {{}}")
        w.when(before, f"r.{column} < {{}}")
    return page_query(
        f"{ident(schema)}.pipelines r",
        w,
        page,
        PIPELINE_SORTS,
        "created_at",
        row=_degraded_row(schema),
    )


async def list_pipelines(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, filters: PipelineFilters, page: Page
) -> PageResult[PipelineRow]:
    return await fetch_page(conn, list_pipelines_query(schema, filters, page), PipelineRow)


async def get_pipeline(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, pipeline_id: UUID
) -> PipelineRow | None:
    return await get_by_id(
        conn, schema, "pipelines", pipeline_id, PipelineRow, row=_degraded_row(schema)
    )


def _degraded_row(schema: str) -> str:
    flag = owner_degraded(PipelinesProjection.name, f"{ident(schema)}.runs", "pipeline_id")
    return with_degraded(flag)


async def pipeline_versions(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, pipeline_id: UUID
) -> tuple[PipelineVersionRow, ...]:
    """Every version of the pipeline, oldest first (none for an unknown pipeline)."""
    text = await conn.fetchval(
        f"SELECT coalesce(jsonb_agg(v ORDER BY v.version), '[]')::text "
        f"FROM {ident(schema)}.versions v WHERE v.pipeline_id = $1",
        pipeline_id,
    )
    return msgspec.json.decode(text, type=tuple[PipelineVersionRow, ...])


async def pipeline_version(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, pipeline_id: UUID, version: int
) -> PipelineVersionRow | None:
    """One version of the pipeline, or None if it has no such version."""
    text = await conn.fetchval(
        f"SELECT to_jsonb(v)::text FROM {ident(schema)}.versions v"
        f" WHERE v.pipeline_id = $1 AND v.version = $2",
        pipeline_id,
        version,
    )
    return None if text is None else msgspec.json.decode(text, type=PipelineVersionRow)


async def pipeline_status(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, pipeline_id: UUID
) -> PipelineStatusRow | None:
    text = await conn.fetchval(
        f"SELECT (to_jsonb(r) || jsonb_build_object('runs_active', r.runs_total - r.runs_succeeded"
        f" - r.runs_failed - r.runs_cancelled - r.runs_timed_out))::text "
        f"FROM {ident(schema)}.pipelines r WHERE r.id = $1",
        pipeline_id,
    )
    return None if text is None else msgspec.json.decode(text, type=PipelineStatusRow)


async def pipeline_triggers(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, project_id: UUID
) -> tuple[PipelineTriggers, ...]:
    """The project's pipelines with their triggers, oldest first, active or not."""
    text = await conn.fetchval(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('pipeline_id', p.id, 'name', p.name,"
        " 'active', p.active, 'triggers', coalesce(p.definition->'triggers', '[]'))"
        f" ORDER BY p.created_at, p.id), '[]')::text FROM {ident(schema)}.pipelines p"
        " WHERE p.project_id = $1",
        project_id,
    )
    return msgspec.json.decode(text, type=tuple[PipelineTriggers, ...])
