"""A pipeline version's step DAG as plain data, with one run's step states laid over it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from domain.pipeline_definition import PipelineDefinition
from domain.run_expansion import plan_of, with_matrix
from domain.run_statuses import StepStatus
from projections.run_rows import StepRow

COMMAND_SUMMARY_MAX = 80


class StepNode(msgspec.Struct, frozen=True, kw_only=True):
    """One step; the fields after `needs` describe a run's latest attempt (None without a run)."""

    name: str
    command: str
    """The first line of its shell command, shortened."""
    timeout_s: int
    retries: int
    allow_failure: bool
    needs: tuple[str, ...]
    """What it waits for as the run executes it (a sequential pipeline's implicit needs too)."""
    status: StepStatus | None = None
    attempt: int | None = None
    max_attempts: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    exit_code: int | None = None


class StepEdge(msgspec.Struct, frozen=True):
    """`source` must finish before `target` may start."""

    source: str = msgspec.field(name="from")
    target: str = msgspec.field(name="to")


class StepGraph(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    """What the picture is of: the pipeline's name, its version, and the run if any."""
    nodes: tuple[StepNode, ...]
    """In declaration order."""
    edges: tuple[StepEdge, ...]
    with_run: bool = False


def command_summary(run: str, limit: int = COMMAND_SUMMARY_MAX) -> str:
    """The first non-blank line of a shell command; an ellipsis marks anything left out."""
    lines = [line.strip() for line in run.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > limit:
        return first[: limit - 1].rstrip() + "…"
    return first + " …" if len(lines) > 1 else first


def step_graph(
    definition: PipelineDefinition, title: str, run_steps: Iterable[StepRow] | None = None
) -> StepGraph:
    """The definition's DAG over its effective needs; with `run_steps`, their states by name.

    A run's plan comes from the version it pinned, so its steps are the definition's; an
    external run has none, and its nodes keep no state.
    """
    states = {step.name: step for step in run_steps or ()}
    specs = {spec.name: spec for spec in definition.steps}
    nodes = []
    # Planned as a run plans them: a matrix step is one node per instance.
    for plan in plan_of(definition):
        spec = specs[plan.source]
        state = states.get(plan.name)
        nodes.append(
            StepNode(
                name=plan.name,
                command=command_summary(with_matrix(spec.run, plan)),
                timeout_s=spec.timeout_s,
                retries=spec.retries,
                allow_failure=spec.allow_failure,
                needs=plan.needs,
                **({} if state is None else _state(state)),
            )
        )
    edges = tuple(StepEdge(need, node.name) for node in nodes for need in node.needs)
    return StepGraph(title=title, nodes=tuple(nodes), edges=edges, with_run=run_steps is not None)


def _state(step: StepRow) -> dict[str, object]:
    return {
        "status": step.status,
        "attempt": step.attempt,
        "max_attempts": step.retries + 1,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "duration_ms": step.duration_ms,
        "exit_code": step.exit_code,
    }
