"""Environment commands (configure one) and the rules a run's steps take from environments."""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.bus import CommandResult, Dependencies
from commands.context import CommandContext
from commands.outcome import answer
from commands.ports import Repository
from domain.approval_spec import APPROVERS_MAX
from domain.environment import (
    APPROVALS_MAX,
    DEFAULT_APPROVAL_TIMEOUT_S,
    Environment,
    environment_id,
)
from domain.errors import AggregateNotFound
from domain.limits import ITEMS_MAX, EnvironmentName, Glob, Key
from domain.pipeline_definition import PipelineDefinition
from domain.project import Project
from domain.run_values import Gate, StepPlan
from domain.step_spec import StepSpec


class ConfigureEnvironment(msgspec.Struct, frozen=True, kw_only=True):
    retry_on_conflict: ClassVar[bool] = True
    project_id: UUID
    name: EnvironmentName
    required_approvals: Annotated[int, Meta(ge=0, le=APPROVALS_MAX)] = 0
    approvers: Annotated[tuple[Key, ...], Meta(max_length=APPROVERS_MAX)] = ()
    branches: Annotated[tuple[Glob, ...], Meta(max_length=ITEMS_MAX)] = ()
    tags: Annotated[tuple[Glob, ...], Meta(max_length=ITEMS_MAX)] = ()
    approval_timeout_s: Annotated[int, Meta(ge=1, le=30 * 86_400)] = DEFAULT_APPROVAL_TIMEOUT_S


async def configure_environment(
    command: ConfigureEnvironment, context: CommandContext, deps: Dependencies
) -> CommandResult:
    project = await deps.repository.get(Project, command.project_id)
    context.principal.require_on("admin", project, project.id)
    rules = msgspec.structs.asdict(command)
    del rules["project_id"], rules["name"]
    try:
        environment = await deps.repository.get(
            Environment, environment_id(project.id, command.name)
        )
    except AggregateNotFound:
        environment = Environment.configure(
            project_id=project.id, name=command.name, at=context.at, **rules
        )
    else:
        environment.reconfigure(at=context.at, **rules)
    saved = await deps.repository.save(environment, metadata=context.metadata())
    return answer(environment, saved)


async def protect_plan(
    plan: tuple[StepPlan, ...],
    definition: PipelineDefinition,
    project_id: UUID,
    ref: str | None,
    repository: Repository,
) -> tuple[StepPlan, ...]:
    """The plan with each step's gate: its approval step's, and its environment's rules.

    An environment that was never configured protects nothing (as in GitHub Actions, naming
    it is enough to deploy there and be recorded in its history).
    """
    specs = {spec.name: spec for spec in definition.steps}
    environments: dict[str, Environment | None] = {}
    protected = []
    for step in plan:
        spec = specs[step.source]  # a matrix instance runs its matrix step
        changes: dict[str, object] = {"kind": spec.kind, "environment": spec.environment}
        approval = _approval_gate(spec) if spec.kind == "approval" else None
        if approval is not None:
            changes["gate"] = approval
        if spec.environment is not None:
            if spec.environment not in environments:
                environments[spec.environment] = await _environment(
                    repository, project_id, spec.environment
                )
            if (environment := environments[spec.environment]) is not None:
                changes["refused"] = environment.refusal(ref)
                gate = environment.gate(spec.approvers)
                if gate is not None:
                    if approval is not None:
                        gate = msgspec.structs.replace(
                            gate, prompt=spec.prompt or gate.prompt, inputs=approval.inputs
                        )
                    changes["gate"] = gate
        protected.append(msgspec.structs.replace(step, **changes))
    return tuple(protected)


def _approval_gate(spec: StepSpec) -> Gate:
    return Gate(
        prompt=spec.prompt,
        approvers=spec.approvers,
        required=1,
        timeout_s=spec.timeout_s,
        on_timeout=spec.on_timeout,
        inputs=spec.inputs,
    )


async def _environment(repository: Repository, project_id: UUID, name: str) -> Environment | None:
    try:
        return await repository.get(Environment, environment_id(project_id, name))
    except AggregateNotFound:
        return None


HANDLERS = {ConfigureEnvironment: configure_environment}
