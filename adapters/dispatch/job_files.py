"""The files part of a step's job: what it uploads, downloads, caches, and whose workspace."""

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
    needs = run.plan[spec.name].needs
    # Only a dependent that starts from this workspace needs it uploaded.
    inheriting = {step.name for step in definition.steps if step.workspace == "inherit"}
    dependents = sum(
        spec.name in plan.needs and plan.name in inheriting for plan in run.plan.values()
    )
    ref = run.trigger.ref or ""
    branch = ref.removeprefix(BRANCH_REF) if ref.startswith(BRANCH_REF) else ""
    cache = None if spec.cache is None else JobCache(key=spec.cache.key, paths=spec.cache.paths)
    return JobFiles(
        artifacts=spec.artifacts,
        download=spec.download,
        cache=cache,
        workspace=spec.workspace,
        needs=needs,
        dependents=dependents,
        retention_days=spec.artifact_retention_days,
        workspace_retention_days=workspace_retention_days,
        branch=branch or default_branch,
        default_branch=default_branch,
    )
