"""Step graphs for the visualization specs: a definition, and a run's step rows to lay over it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from adapters.visualization.graph import StepGraph, step_graph
from domain.pipeline_definition import PipelineDefinition
from domain.run_statuses import StepStatus
from projections.run_rows import StepRow

RUN_ID = UUID("0195f1d0-0000-7000-8000-0000000000a1")
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

DIAMOND = [
    {"name": "build", "run": "make build"},
    {"name": "test", "run": "pytest -q", "needs": ["build"], "retries": 2},
    {"name": "lint", "run": "ruff check .", "needs": ["build"]},
    {"name": "deploy", "run": "./deploy.sh", "needs": ["test", "lint"], "timeout_s": 900},
]


def definition(steps: list[dict[str, Any]], name: str = "ci") -> PipelineDefinition:
    return msgspec.convert({"name": name, "steps": steps}, PipelineDefinition).validated()


def step_row(
    name: str,
    status: StepStatus,
    *,
    idx: int = 0,
    attempt: int = 1,
    retries: int = 0,
    duration_ms: int | None = None,
    exit_code: int | None = None,
) -> StepRow:
    started = None if status in (StepStatus.PENDING, StepStatus.QUEUED) else T0
    finished = T0 + timedelta(milliseconds=duration_ms) if duration_ms is not None else None
    return StepRow(
        run_id=RUN_ID,
        name=name,
        idx=idx,
        needs=(),
        allow_failure=False,
        retries=retries,
        timeout_s=3600,
        status=status,
        attempt=attempt,
        runner=None,
        exit_code=exit_code,
        reason=None,
        queued_at=T0,
        started_at=started,
        finished_at=finished,
        duration_ms=duration_ms,
        outputs={},
        metrics={},
        updated_at=T0,
    )


def diamond(with_run: bool = False) -> StepGraph:
    """build -> test, build -> lint, test + lint -> deploy; with a run, test failed."""
    if not with_run:
        return step_graph(definition(DIAMOND), "ci · version 1")
    steps = [
        step_row("build", StepStatus.SUCCEEDED, duration_ms=42_300),
        step_row("test", StepStatus.FAILED, attempt=3, retries=2, duration_ms=8_100, exit_code=1),
        step_row("lint", StepStatus.SUCCEEDED, duration_ms=950),
        step_row("deploy", StepStatus.SKIPPED),
    ]
    return step_graph(definition(DIAMOND), "ci · version 1 · run 0195f1d0 failed", steps)
