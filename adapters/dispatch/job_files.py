"""The files part of a step's job: what it uploads, downloads, caches, and whose workspace.

A step that runs nothing on a runner (an approval, a Jenkins job) has no workspace: a step
after it starts from the workspaces of the steps that one waited for, as if it needed them.
"""

from __future__ import annotations

from adapters.streaming.jobs import JobCache, JobFiles
from domain.pipeline_definition import PipelineDefinition
from domain.run import Run
from domain.step_spec import StepSpec

BRANCH_REF = "refs/heads/"


def job_files(
    run: Run,
    definition: PipelineDefinition,
    spec: StepSpec,
    default_branch: str,
    workspace_retention_days: int,
    *,
    step: str | None = None,
) -> JobFiles:
    """`step` names the planned step when it is not `spec` itself (a matrix instance)."""
    step = step or spec.name
    kinds = {s.name: s for s in definition.steps}
    # Planned steps, matrix instances included, by the definition step each one runs.
    runs_here = {name for name, plan in run.plan.items() if kinds[plan.source].kind == "run"}
    inheriting = {name for name in runs_here if kinds[run.plan[name].source].workspace == "inherit"}
    sources = {name: workspace_sources(run, name, runs_here) for name in run.plan}
    # Only a dependent that starts from this workspace needs it uploaded.
    dependents = sum(step in sources[name] for name in inheriting)
    ref = run.trigger.ref or ""
    branch = ref.removeprefix(BRANCH_REF) if ref.startswith(BRANCH_REF) else ""
    cache = None
    if spec.cache is not None:
        c = spec.cache
        cache = JobCache(key=c.key, paths=c.paths, restore_keys=c.restore_keys)
    return JobFiles(
        artifacts=spec.artifacts,
        download=spec.download,
        cache=cache,
        workspace=spec.workspace,
        needs=sources[step],
        needs_from={
            need: carried
            for need in sources[step]
            if (carried := run.steps[need].carried_from) is not None
        },
        dependents=dependents,
        retention_days=spec.artifact_retention_days,
        workspace_retention_days=workspace_retention_days,
        branch=branch or default_branch,
        default_branch=default_branch,
    )


def workspace_sources(run: Run, step: str, runs_here: set[str]) -> tuple[str, ...]:
    """The steps whose workspaces `step` starts from: its needs, an approval's (or a step's
    that never ran) in its place."""
    found: dict[str, None] = {}
    for need in run.plan[step].needs:
        # A step skipped by its condition (or cancelled before it ran) left no workspace.
        never_ran = run.steps[need].status.finished and run.steps[need].started_at is None
        if need in runs_here and not never_ran:
            found[need] = None
        else:
            found.update(dict.fromkeys(workspace_sources(run, need, runs_here)))
    return tuple(found)
