"""Past states rendered like the read endpoints render the present, from the aggregates' fields.

Fields the aggregate does not keep (a step's `updated_at`, a cancel's reason, the failed step's
name) are left out rather than guessed; `as_of` says which event the state stops at.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from adapters.audit.state import AsOf
from domain.pipeline import Pipeline, PipelineStatus
from domain.pipeline_definition import PipelineDefinition
from domain.run import Run
from domain.run_statuses import Provider, RunStatus, StepStatus, TriggerKind
from domain.run_values import StepPlan, StepState


class StepAsOf(msgspec.Struct, frozen=True, kw_only=True):
    """A step then; the attempt fields describe its latest attempt (as in the run read)."""

    name: str
    idx: int
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


class LogAsOf(msgspec.Struct, frozen=True, kw_only=True):
    bytes: int
    truncated: bool
    last_seq: dict[str, int]
    """The last chunk's seq per channel (`""`: the run's own, as in the logs endpoint)."""


class RunAsOf(msgspec.Struct, frozen=True, kw_only=True):
    """A run as it was: the fields of GET /api/v1/pipeline-runs/{id}, from the aggregate."""

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
    updated_at: datetime
    step_summary: dict[str, int]
    metrics: dict[str, float]
    failure_reason: str | None
    cancel_requested_by: str | None
    stream_version: int
    steps: tuple[StepAsOf, ...]
    logs: LogAsOf
    as_of: AsOf


class PipelineAsOf(msgspec.Struct, frozen=True, kw_only=True):
    """A pipeline as it was: which definition was current, and whether it could start runs."""

    id: UUID
    project_id: UUID
    name: str
    description: str
    tags: tuple[str, ...]
    current_version: int
    definition: PipelineDefinition
    active: bool
    status: PipelineStatus
    created_at: datetime
    updated_at: datetime
    stream_version: int
    versions: tuple[int, ...]
    """The definition versions it had by then."""
    as_of: AsOf


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, (end - start) // timedelta(milliseconds=1))


def _step(idx: int, plan: StepPlan, state: StepState) -> StepAsOf:
    return StepAsOf(
        name=plan.name,
        idx=idx,
        needs=plan.needs,
        allow_failure=plan.allow_failure,
        retries=plan.retries,
        timeout_s=plan.timeout_s,
        status=state.status,
        attempt=state.attempt,
        runner=state.runner,
        exit_code=state.exit_code,
        reason=state.reason,
        queued_at=state.queued_at,
        started_at=state.started_at,
        finished_at=state.finished_at,
        duration_ms=state.duration_ms,
        outputs=dict(state.outputs),
        metrics=dict(state.metrics),
    )


def run_as_of(run: Run, as_of: AsOf) -> RunAsOf:
    trigger, external = run.trigger, run.external
    ref = trigger.ref
    branch = ref.removeprefix("refs/heads/") if ref and ref.startswith("refs/heads/") else None
    counts = Counter(state.status for state in run.steps.values())
    steps = tuple(
        _step(idx, plan, run.steps[name]) for idx, (name, plan) in enumerate(run.plan.items())
    )
    return RunAsOf(
        id=run.id,
        project_id=run.project_id,
        pipeline_id=run.pipeline_id,
        pipeline_version=run.pipeline_version,
        status=run.status,
        trigger_kind=trigger.kind,
        actor=trigger.actor,
        repo=trigger.repo,
        ref=ref,
        branch=branch,
        sha=trigger.sha,
        pull_request=trigger.pull_request,
        trigger_event=trigger.event,
        delivery_id=trigger.delivery_id,
        external_provider=external.provider if external else None,
        external_id=external.external_id if external else None,
        external_url=external.url if external else None,
        retry_of=run.retry_of,
        parameters=dict(run.parameters),
        queued_at=run.created_on,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=_ms(run.started_at, run.finished_at),
        updated_at=run.modified_on,
        step_summary={status.value: counts.get(status, 0) for status in StepStatus},
        metrics=dict(run.metric_totals),
        failure_reason=run.failure,
        cancel_requested_by=run.cancel_requested_by,
        stream_version=run.version,
        steps=steps,
        logs=LogAsOf(
            bytes=run.log_bytes,
            truncated=run.log_truncated,
            last_seq={(step or ""): seq for step, seq in run.log_seqs.items()},
        ),
        as_of=as_of,
    )


def pipeline_as_of(pipeline: Pipeline, as_of: AsOf) -> PipelineAsOf:
    definition = pipeline.definition()
    return PipelineAsOf(
        id=pipeline.id,
        project_id=pipeline.project_id,
        name=definition.name,
        description=definition.description,
        tags=definition.tags,
        current_version=pipeline.current_version,
        definition=definition,
        active=pipeline.active,
        status=pipeline.status,
        created_at=pipeline.created_on,
        updated_at=pipeline.modified_on,
        stream_version=pipeline.version,
        versions=tuple(sorted(pipeline.definitions)),
        as_of=as_of,
    )
