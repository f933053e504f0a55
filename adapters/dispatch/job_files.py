"""The files part of a step's job: what it uploads, downloads, caches, and whose workspace.

A step that runs nothing on a runner (an approval) has no workspace: a step after it starts
from the workspaces of the steps the approval waited for, as if it needed them itself.
"""

from __future__ import annotations

from adapters.streaming.jobs import JobCache, JobFiles
from domain.pipeline_definition import PipelineDefinition, StepSpec
from domain.run import Run

BRANCH_REF = "refs/heads/"


def job_files(
    run: Run,
    definition: PipelineDefinition,
    spec: StepSpec,
    default_branch: str,
    workspace_retention_days: int,
) -> JobFiles:
    runs_here = {step.name for step in definition.steps if step.kind == "run"}
    inheriting = {
        step.name for step in definition.steps if step.kind == "run" and step.workspace == "inherit"
    }
    sources = {name: workspace_sources(run, name, runs_here) for name in run.plan}
    # Only a dependent that starts from this workspace needs it uploaded.
    dependents = sum(spec.name in sources[name] for name in inheriting)
    ref = run.trigger.ref or ""
    branch = ref.removeprefix(BRANCH_REF) if ref.startswith(BRANCH_REF) else ""
    cache = None if spec.cache is None else JobCache(key=spec.cache.key, paths=spec.cache.paths)
    return JobFiles(
        artifacts=spec.artifacts,
        download=spec.download,
        cache=cache,
        workspace=spec.workspace,
        needs=sources[spec.name],
        needs_from={
            need: carried
            for need in sources[spec.name]
            if (carried := run.steps[need].carried_from) is not None
        },
        dependents=dependents,
        retention_days=spec.artifact_retention_days,
        workspace_retention_days=workspace_retention_days,
        branch=branch or default_branch,
        default_branch=default_branch,
    )


def workspace_sources(run: Run, step: str, runs_here: set[str]) -> tuple[str, ...]:
    """The steps whose workspaces `step` starts from: its needs, an approval's in its place."""
    found: dict[str, None] = {}
    for need in run.plan[step].needs:
        if need in runs_here:
            found[need] = None
        else:
            found.update(dict.fromkeys(workspace_sources(run, need, runs_here)))
    return tuple(found)
