"""What the pipelines read model answers: a pipeline, its versions, its status, its triggers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.pipeline import PipelineStatus
from domain.run_statuses import RunStatus
from domain.trigger_spec import TriggerSpec


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
    reads_file: bool = False
    """Its current version names a `repository_file`: a push runs the file at the pushed sha."""


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
