"""The pending approvals read model: each step that waits for a decision, until it is decided.

What the approval sweeper reads (`due`: past their deadline) and what people list (`pending`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.run import RUN_ENDS
from projections.rows import ident

DDL = """
CREATE TABLE {s}.pending_approvals (
    run_id uuid NOT NULL,
    step text NOT NULL,
    project_id uuid NOT NULL,
    prompt text NOT NULL,
    approvers text[] NOT NULL,
    required integer NOT NULL,
    approved_by text[] NOT NULL,
    environment text,
    requested_at timestamptz NOT NULL,
    deadline timestamptz NOT NULL,
    PRIMARY KEY (run_id, step)
);
CREATE INDEX pending_approvals_deadline ON {s}.pending_approvals (deadline);
CREATE INDEX pending_approvals_project ON {s}.pending_approvals (project_id, requested_at);
"""


class PendingApproval(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    step: str
    project_id: UUID
    prompt: str
    approvers: list[str]
    """Who may decide (`key:<id>`, `jwt:<subject>`); empty: any holder of the approve scope."""
    required: int
    approved_by: list[str]
    """The principals who approved so far (a gate may need several)."""
    environment: str | None
    requested_at: datetime
    deadline: datetime
    """Past it, the gate takes its default outcome."""


class ApprovalsProjection:
    name = "approvals"
    version = 1
    event_types = frozenset({"ApprovalRequested", "ApprovalDecided", "StepCancelled", *RUN_ENDS})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        table = f"{ident(schema)}.pending_approvals"
        for event in events:
            d, run_id = event.data, UUID(event.stream_id)
            if event.type == "ApprovalRequested":
                await conn.execute(
                    f"INSERT INTO {table} (run_id, step, project_id, prompt, approvers, "
                    "required, approved_by, environment, requested_at, deadline) "
                    "VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, $8, $9) "
                    "ON CONFLICT (run_id, step) DO NOTHING",
                    run_id,
                    d["step"],
                    UUID(d["project_id"]),
                    d["prompt"],
                    d["approvers"],
                    d["required"],
                    d["environment"],
                    datetime.fromisoformat(d["occurred_at"]),
                    datetime.fromisoformat(d["deadline"]),
                )
            elif event.type == "ApprovalDecided" and d["decision"] == "approve" and not d["opens"]:
                await conn.execute(
                    f"UPDATE {table} SET approved_by = approved_by || $3::text "
                    "WHERE run_id = $1 AND step = $2",
                    run_id,
                    d["step"],
                    d["principal"],
                )
            elif event.type in ("ApprovalDecided", "StepCancelled"):
                await conn.execute(
                    f"DELETE FROM {table} WHERE run_id = $1 AND step = $2", run_id, d["step"]
                )
            elif event.type in RUN_ENDS:
                await conn.execute(f"DELETE FROM {table} WHERE run_id = $1", run_id)


_COLUMNS = (
    "run_id, step, project_id, prompt, approvers, required, approved_by, environment, "
    "requested_at, deadline"
)


async def pending(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    projects: tuple[UUID, ...] | None,
    *,
    run_id: UUID | None = None,
    limit: int = 100,
) -> list[PendingApproval]:
    """The waiting steps within `projects` (None: every project), oldest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM {ident(schema)}.pending_approvals "
        "WHERE ($1::uuid[] IS NULL OR project_id = ANY($1)) AND ($2::uuid IS NULL OR run_id = $2) "
        "ORDER BY requested_at, run_id, step LIMIT $3",
        None if projects is None else list(projects),
        run_id,
        limit,
    )
    return [PendingApproval(**dict(row)) for row in rows]


async def due(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, now: datetime, limit: int = 500
) -> list[tuple[UUID, str]]:
    """(run, step) of every gate whose deadline has passed at `now`."""
    rows = await conn.fetch(
        f"SELECT run_id, step FROM {ident(schema)}.pending_approvals WHERE deadline <= $1 "
        "ORDER BY deadline LIMIT $2",
        now,
        limit,
    )
    return [(row["run_id"], row["step"]) for row in rows]
