"""The environments read model: each environment's rules, and its deployment history.

A deployment is one step of one run that targets the environment: which run, which commit,
who approved, when, and how it ended. Rows are made when the run is requested (its plan names
the environments) and follow that step's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from projections.rows import ident

DDL = """
CREATE TABLE {s}.environments (
    id uuid NOT NULL UNIQUE,
    project_id uuid NOT NULL,
    name text NOT NULL,
    required_approvals integer NOT NULL,
    approvers text[] NOT NULL,
    branches text[] NOT NULL,
    tags text[] NOT NULL,
    approval_timeout_s integer NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, name)
);
CREATE TABLE {s}.deployments (
    run_id uuid NOT NULL,
    step text NOT NULL,
    project_id uuid NOT NULL,
    environment text NOT NULL,
    pipeline_id uuid NOT NULL,
    ref text,
    sha text,
    status text NOT NULL,
    reason text,
    approved_by text[] NOT NULL,
    requested_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (run_id, step)
);
CREATE INDEX deployments_environment
    ON {s}.deployments (project_id, environment, requested_at DESC, run_id);
"""

_STEP_STATUS = {
    "ApprovalRequested": "waiting_for_approval",
    "StepQueued": "queued",
    "StepStarted": "running",
    "StepSucceeded": "succeeded",
    "StepFailed": "failed",
    "StepTimedOut": "timed_out",
    "StepSkipped": "skipped",
    "StepCancelled": "cancelled",
}
_ENDS = frozenset({"StepSucceeded", "StepFailed", "StepTimedOut", "StepSkipped", "StepCancelled"})


class EnvironmentRow(msgspec.Struct, frozen=True, kw_only=True):
    project_id: UUID
    name: str
    required_approvals: int
    approvers: list[str]
    branches: list[str]
    tags: list[str]
    approval_timeout_s: int
    updated_at: datetime


class DeploymentRow(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    step: str
    pipeline_id: UUID
    ref: str | None
    sha: str | None
    status: str
    """pending, waiting_for_approval, queued, running, succeeded, failed, timed_out, ..."""
    reason: str | None
    approved_by: list[str]
    """Who approved it (their names as their keys or tokens give them)."""
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class EnvironmentsProjection:
    name = "environments"
    version = 1
    event_types = frozenset(
        {"EnvironmentConfigured", "EnvironmentReconfigured", "RunRequested", "ApprovalDecided"}
        | _STEP_STATUS.keys()
    )

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    def applies_nothing(self, event: EventEnvelope) -> bool:
        """A run none of whose steps deploys (most runs) leaves the view as it is."""
        return event.type == "RunRequested" and not any(
            step.get("environment") for step in event.data["steps"]
        )

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        s = ident(schema)
        steps = StepChanges()
        for event in events:
            d = event.data
            if event.type in _STEP_STATUS:
                steps.add(event)
                continue
            at = datetime.fromisoformat(d["occurred_at"])
            if event.type in ("EnvironmentConfigured", "EnvironmentReconfigured"):
                await _configured(conn, s, event, d, at)
            elif event.type == "RunRequested":
                await _requested(conn, s, UUID(event.stream_id), d, at)
            elif event.type == "ApprovalDecided" and d["decision"] == "approve":
                await conn.execute(
                    f"UPDATE {s}.deployments SET approved_by = approved_by || $3::text "
                    "WHERE run_id = $1 AND step = $2",
                    UUID(event.stream_id),
                    d["step"],
                    d["actor"],
                )
        # After the batch's inserts: a step's events follow its run's RunRequested, and
        # an approval's name commutes with the status.
        await steps.write(conn, s)


class StepChanges:
    """A batch's step events folded per (run, step) into what they leave on its deployment
    row, written in one statement: most steps deploy nowhere, and each event's own UPDATE
    found nothing (about 3 statements per run)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[UUID, str], list[Any]] = {}

    def add(self, event: EventEnvelope) -> None:
        d = event.data
        at = datetime.fromisoformat(d["occurred_at"])
        row = self._rows.setdefault((UUID(event.stream_id), d["step"]), [None, None, None, None])
        row[0] = _STEP_STATUS[event.type]
        if d.get("reason") is not None:
            row[1] = d["reason"]
        if event.type == "StepStarted":
            row[2] = at
        if event.type in _ENDS:
            row[3] = at

    async def write(self, conn: asyncpg.Connection, s: str) -> None:
        if not self._rows:
            return
        keys, rows = list(self._rows), list(self._rows.values())
        await conn.execute(
            f"UPDATE {s}.deployments d SET status = c.status, "
            "reason = coalesce(c.reason, d.reason), "
            "started_at = coalesce(c.started_at, d.started_at), "
            "finished_at = coalesce(c.finished_at, d.finished_at) "
            "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], "
            "$6::timestamptz[]) AS c(run_id, step, status, reason, started_at, finished_at) "
            "WHERE d.run_id = c.run_id AND d.step = c.step",
            [k[0] for k in keys],
            [k[1] for k in keys],
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        )


async def _configured(
    conn: asyncpg.Connection, s: str, event: EventEnvelope, d: dict[str, Any], at: datetime
) -> None:
    environment_id = UUID(event.stream_id)
    if event.type == "EnvironmentConfigured":
        await conn.execute(
            f"INSERT INTO {s}.environments VALUES ($1, $2, $3, 0, '{{}}', '{{}}', '{{}}', 1, $4) "
            "ON CONFLICT DO NOTHING",
            environment_id,
            UUID(d["project_id"]),
            d["name"],
            at,
        )
    await conn.execute(
        f"UPDATE {s}.environments SET required_approvals = $2, approvers = $3, branches = $4, "
        "tags = $5, approval_timeout_s = $6, updated_at = $7 WHERE id = $1",
        environment_id,
        d["required_approvals"],
        d["approvers"],
        d["branches"],
        d["tags"],
        d["approval_timeout_s"],
        at,
    )


async def _requested(
    conn: asyncpg.Connection, s: str, run_id: UUID, d: dict[str, Any], at: datetime
) -> None:
    trigger = d["trigger"]
    for step in d["steps"]:
        if step.get("environment"):
            await conn.execute(
                f"INSERT INTO {s}.deployments (run_id, step, project_id, environment, "
                "pipeline_id, ref, sha, status, approved_by, requested_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', '{}', $8) "
                "ON CONFLICT DO NOTHING",
                run_id,
                step["name"],
                UUID(d["project_id"]),
                step["environment"],
                UUID(d["pipeline_id"]),
                trigger.get("ref"),
                trigger.get("sha"),
                at,
            )


async def get_environment(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, project_id: UUID, name: str
) -> EnvironmentRow | None:
    row = await conn.fetchrow(
        "SELECT project_id, name, required_approvals, approvers, branches, tags, "
        f"approval_timeout_s, updated_at FROM {ident(schema)}.environments "
        "WHERE project_id = $1 AND name = $2",
        project_id,
        name,
    )
    return None if row is None else EnvironmentRow(**dict(row))


async def deployments(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    project_id: UUID,
    environment: str,
    *,
    limit: int,
) -> list[DeploymentRow]:
    """The environment's deployments, newest first."""
    rows = await conn.fetch(
        "SELECT run_id, step, pipeline_id, ref, sha, status, reason, approved_by, requested_at, "
        f"started_at, finished_at FROM {ident(schema)}.deployments "
        "WHERE project_id = $1 AND environment = $2 "
        "ORDER BY requested_at DESC, run_id LIMIT $3",
        project_id,
        environment,
        limit,
    )
    return [DeploymentRow(**dict(row)) for row in rows]
