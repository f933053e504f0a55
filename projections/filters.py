"""Typed filters of the list queries; `*_after` bounds are inclusive, `*_before` exclusive."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.pipeline import PipelineStatus
from domain.run_statuses import Provider, RunStatus, TriggerKind


class RunFilters(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_ids: tuple[UUID, ...] | None = None
    """The projects the caller may see, always applied: None is every project, () is none."""
    pipeline_id: UUID | None = None
    status: tuple[RunStatus, ...] = ()
    """Any of these."""
    trigger_kind: tuple[TriggerKind, ...] = ()
    branch: str | None = None
    """The branch of a `refs/heads/<branch>` ref."""
    ref: str | None = None
    actor: str | None = None
    external_provider: Provider | None = None
    created_after: datetime | None = None
    """Created is when the run was requested (its `queued_at`)."""
    created_before: datetime | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    completed_after: datetime | None = None
    """Completed is when the run finished, whatever its outcome (its `finished_at`)."""
    completed_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


class PipelineFilters(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    project_ids: tuple[UUID, ...] | None = None
    """The projects the caller may see, always applied: None is every project, () is none."""
    name_contains: str | None = None
    """Case-insensitive."""
    tags: tuple[str, ...] = ()
    """All of these."""
    is_active: bool | None = None
    status: tuple[PipelineStatus, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    version: int | None = None
    """Its current definition version is this one."""


def like_pattern(text: str) -> str:
    """`%text%` for ILIKE with `\\` as escape, so `%` and `_` in `text` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
