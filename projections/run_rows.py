"""What the runs read model answers: a run, its steps, a run with its steps (as in its tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.run_statuses import Provider, RunStatus, StepStatus, TriggerKind


class RunRow(msgspec.Struct, frozen=True, kw_only=True):
    """A run as listed; `queued_at` is when it was requested (the filters' `created`)."""

    id: UUID
    project_id: UUID
    pipeline_id: UUID
    pipeline_version: int
    status: RunStatus
    trigger_kind: TriggerKind
    actor: str
    repo: str | None
    ref: str | None
    branch: str | None
    sha: str | None
    pull_request: int | None
    trigger_event: str | None
    delivery_id: str | None
    external_provider: Provider | None
    external_id: str | None
    external_url: str | None
    retry_of: UUID | None
    parameters: dict[str, Any]
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    """From start to finish; None for a run that never started."""
    updated_at: datetime
    step_summary: dict[str, int]
    """How many steps are in each step status (every status present)."""
    metrics: dict[str, float]
    """Step metrics summed over every attempt of every step."""
    failure_reason: str | None
    failed_step: str | None
    cancel_requested_by: str | None
    cancel_reason: str | None
    stream_version: int
    degraded: bool = False
    """Events of this run wait in the view's quarantine: the row is missing them (not a column:
    the queries ask `projection_quarantine`)."""


class StepRow(msgspec.Struct, frozen=True, kw_only=True):
    """A step of a run; the attempt fields describe its latest attempt."""

    run_id: UUID
    name: str
    idx: int
    """Its place in the run's plan."""
    needs: tuple[str, ...]
    allow_failure: bool
    retries: int
    timeout_s: int
    status: StepStatus
    attempt: int
    runner: str | None
    exit_code: int | None
    reason: str | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    outputs: dict[str, str]
    metrics: dict[str, float]
    updated_at: datetime


class RunDetail(RunRow, frozen=True, kw_only=True):
    steps: tuple[StepRow, ...] = ()
    """In plan order."""
