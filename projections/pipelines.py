"""The pipelines read model: current definition, every version, last run and run counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from domain.envelope import EventEnvelope
from domain.pipeline import PipelineStatus
from domain.run_statuses import RunStatus
from projections.degraded import table_columns
from projections.pipeline_rows import PipelineRow, PipelineVersionRow
from projections.rows import Row, Upsert, ident, load, occurred_at, save_all

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


DEFINING = frozenset({"PipelineCreated", "PipelineVersionDefined", *_PIPELINE_STATUS})
"""The events that change what `pipeline_queries.pipeline_triggers` answers (the others, runs,
only move a pipeline's counters)."""


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
        await save_all(
            conn,
            schema,
            Upsert("runs", new_runs, ("id",), ("id", "pipeline_id")),
            Upsert("versions", versions, ("pipeline_id", "version"), VERSION_COLUMNS),
            Upsert("pipelines", pipelines.values(), ("id",), PIPELINE_COLUMNS),
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
