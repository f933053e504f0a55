"""The Jenkins builds jenkins steps asked for and started: what the webhook intake folds
Jenkins' own notifications into (see domain/run_jenkins.py).

A row is `active` from the request until its step's attempt (or its run) ends; a linked row
is kept after that, so a late notification about a finished build still finds its run.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg
import msgspec

from domain.envelope import EventEnvelope
from domain.run import RUN_ENDS, STEP_ENDS
from projections.rows import ident

DDL = """
CREATE TABLE {s}.builds (
    run_id uuid NOT NULL,
    step text NOT NULL,
    attempt integer NOT NULL,
    project_id uuid NOT NULL,
    server text NOT NULL,
    job text NOT NULL,
    number integer,
    url text,
    active boolean NOT NULL,
    PRIMARY KEY (run_id, step, attempt)
);
CREATE INDEX builds_job ON {s}.builds (project_id, number);
"""
_MATCHES_JOB = "(b.job = $2 OR b.job LIKE '%/' || replace(replace($2, '%', '\\%'), '_', '\\_'))"
"""The notification names the job by its short name; a step may name it with its folders."""


class BuildOwner(msgspec.Struct, frozen=True, kw_only=True):
    run_id: UUID
    step: str
    attempt: int


class JenkinsBuildsProjection:
    name = "jenkins_builds"
    version = 1
    event_types = frozenset({"JenkinsBuildRequested", "JenkinsBuildLinked", *STEP_ENDS, *RUN_ENDS})

    def ddl(self, schema: str) -> str:
        return DDL.format(s=ident(schema))

    async def apply(
        self, conn: asyncpg.Connection, schema: str, events: Sequence[EventEnvelope]
    ) -> None:
        table = f"{ident(schema)}.builds"
        for event in events:
            d, run_id = event.data, UUID(event.stream_id)
            if event.type in ("JenkinsBuildRequested", "JenkinsBuildLinked"):
                await conn.execute(
                    f"INSERT INTO {table} (run_id, step, attempt, project_id, server, job, "
                    "number, url, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true) "
                    "ON CONFLICT (run_id, step, attempt) DO UPDATE SET "
                    "number = coalesce(EXCLUDED.number, builds.number), "
                    "url = coalesce(EXCLUDED.url, builds.url)",
                    run_id,
                    d["step"],
                    d["attempt"],
                    UUID(d["project_id"]),
                    d["server"],
                    d["job"],
                    d.get("number"),
                    d.get("url"),
                )
            elif event.type in STEP_ENDS:
                await conn.execute(
                    f"UPDATE {table} SET active = false WHERE run_id = $1 AND step = $2",
                    run_id,
                    d["step"],
                )
            elif event.type in RUN_ENDS:
                await conn.execute(f"UPDATE {table} SET active = false WHERE run_id = $1", run_id)


async def build_owner(
    conn: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    project_id: UUID,
    job: str,
    number: int,
    url: str | None,
) -> BuildOwner | None:
    """The step attempt that started build `number` of `job` in the project (the one whose
    build URL is `url` first, when two Jenkins servers have a job of that name)."""
    row = await conn.fetchrow(
        f"SELECT b.run_id, b.step, b.attempt FROM {ident(schema)}.builds b "
        f"WHERE b.project_id = $1 AND b.number = $3 AND {_MATCHES_JOB} "
        "ORDER BY (b.url = $4) DESC NULLS LAST, b.active DESC LIMIT 1",
        project_id,
        job,
        number,
        url,
    )
    return BuildOwner(**dict(row)) if row is not None else None


async def awaiting_number(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, project_id: UUID, job: str
) -> bool:
    """Whether a step of the project has asked Jenkins to build `job` and has no number yet."""
    return bool(
        await conn.fetchval(
            f"SELECT EXISTS (SELECT 1 FROM {ident(schema)}.builds b WHERE b.project_id = $1 "
            f"AND b.active AND b.number IS NULL AND {_MATCHES_JOB})",
            project_id,
            job,
        )
    )
