"""A run as `GET /api/v1/pipeline-runs/{id}` shows it: the runs view's row and steps, with the
artifacts the run stored (from the artifacts view), each with where to download it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

import msgspec

from projections import artifacts
from projections.projection import live_schema
from projections.run_rows import RunDetail

ARTIFACTS_SCHEMA = live_schema("artifacts")


class RunArtifactSummary(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    step: str
    attempt: int
    format: str
    size: int
    sha256: str
    uploaded_at: datetime
    retention_days: int
    expires_at: datetime
    deleted_at: datetime | None
    deleted_reason: str | None
    download_url: str | None
    """The API route that streams it (with `Range`); None once deleted."""


class RunView(RunDetail, frozen=True, kw_only=True):
    artifacts: tuple[RunArtifactSummary, ...] = ()
    """What its steps uploaded (`artifacts:`), oldest first, deleted ones too."""
    artifacts_url: str = ""
    """The route that lists them, as `GET .../artifacts` answers."""


def download_path(run_id: UUID, name: str) -> str:
    return f"/api/v1/pipeline-runs/{run_id}/artifacts/{quote(name, safe='')}"


def summaries(rows: list[artifacts.ArtifactRow]) -> tuple[RunArtifactSummary, ...]:
    return tuple(
        RunArtifactSummary(
            name=r.name,
            step=r.step,
            attempt=r.attempt,
            format=r.format,
            size=r.size,
            sha256=r.sha256,
            uploaded_at=r.uploaded_at,
            retention_days=round((r.expires_at - r.uploaded_at).total_seconds() / 86_400),
            expires_at=r.expires_at,
            deleted_at=r.deleted_at,
            deleted_reason=r.deleted_reason,
            download_url=None if r.deleted_at else download_path(r.run_id, r.name),
        )
        for r in rows
    )


async def run_artifact_summaries(conn: Any, run_id: UUID) -> tuple[RunArtifactSummary, ...]:
    """The run's artifacts; none while this process serves no artifacts view."""
    built = await conn.fetchval(
        "SELECT to_regclass(quote_ident($1) || '.artifacts')", ARTIFACTS_SCHEMA
    )
    if built is None:
        return ()
    return summaries(await artifacts.run_artifacts(conn, ARTIFACTS_SCHEMA, run_id))


async def with_artifacts(conn: Any, run: RunDetail | None) -> RunView | None:
    """The run (one the caller may see, else None) with its artifacts."""
    if run is None:
        return None
    fields = msgspec.structs.asdict(run)
    return RunView(
        **fields,
        artifacts=await run_artifact_summaries(conn, run.id),
        artifacts_url=f"/api/v1/pipeline-runs/{run.id}/artifacts",
    )
