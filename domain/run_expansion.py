"""A run's plan from a pipeline definition: each matrix step expanded into its instances."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from domain.jenkins_spec import JENKINS_LABEL
from domain.matrix import Combination, expand, instance_label, instance_name, value_text
from domain.pipeline_definition import PipelineDefinition
from domain.run_values import StepPlan
from domain.step_spec import StepSpec

DEFAULT_STEP_LABELS = ("linux",)
"""A step's `labels` when it names none (StepSpec's default)."""


def plan_of(definition: PipelineDefinition) -> tuple[StepPlan, ...]:
    """The plan: a step that needs a matrix step needs every instance of it."""
    instances = {step.name: _instances(step) for step in definition.steps}
    plan: list[StepPlan] = []
    for step in definition.steps:
        needs = tuple(
            name for need in definition.effective_needs(step.name) for name, _ in instances[need]
        )
        for name, combination in instances[step.name]:
            plan.append(
                StepPlan(
                    name=name,
                    needs=needs,
                    retries=step.retries,
                    timeout_s=step.timeout_s,
                    allow_failure=step.allow_failure,
                    queue_timeout_s=step.queue_timeout_s,
                    condition=step.if_.strip(),
                    instance_of=step.name if step.matrix else "",
                    matrix=combination,
                    fail_fast=bool(step.matrix) and step.fail_fast,
                    max_parallel=step.max_parallel,
                )
            )
    return tuple(plan)


def _instances(step: StepSpec) -> list[tuple[str, Combination]]:
    if not step.matrix:
        return [(step.name, {})]
    return [(instance_name(step.name, c), c) for c in expand(step.matrix)]


def runner_labels(
    definition: PipelineDefinition, plans: Mapping[str, StepPlan], default: str
) -> dict[str, str]:
    """The label each planned step's job goes to: its step's first label, with a matrix
    instance's own value in place of `${{ matrix.<axis> }}`."""
    specs = {step.name: step for step in definition.steps}
    labels: dict[str, str] = {}
    for name, plan in plans.items():
        spec = specs[plan.source]
        spec_labels = spec.labels
        if spec.kind == "jenkins" and spec_labels == DEFAULT_STEP_LABELS:
            spec_labels = (JENKINS_LABEL,)  # runners that reach Jenkins, unless it names some
        labels[name] = instance_label(spec_labels[0], plan.matrix) if spec_labels else default
    return labels


_MATRIX_REFERENCE = re.compile(r"\$\{\{\s*matrix\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MATRIX_ENV_PREFIX = "FLOWLEDGER_MATRIX_"


def with_matrix(text: str, plan: StepPlan) -> str:
    """`text` with each `${{ matrix.<axis> }}` replaced by this instance's value (other
    `${{ }}` expressions are left for whoever renders them)."""
    if not plan.matrix:
        return text
    return _MATRIX_REFERENCE.sub(
        lambda m: value_text(plan.matrix[m[1]]) if m[1] in plan.matrix else "", text
    )


def matrix_env(plan: StepPlan) -> dict[str, str]:
    """`FLOWLEDGER_MATRIX_<axis>` for each of the instance's values."""
    return {f"{MATRIX_ENV_PREFIX}{key}": value_text(value) for key, value in plan.matrix.items()}


def with_step_groups(
    plan: tuple[StepPlan, ...], definition: PipelineDefinition, context: Mapping[str, object]
) -> tuple[StepPlan, ...]:
    """The plan with each grouped step's key rendered (over `context` and its matrix values)."""
    specs = {step.name: step for step in definition.steps}
    rendered = []
    for step in plan:
        spec = specs[step.source].concurrency
        if spec is not None:
            key = spec.group_key({**context, "matrix": dict(step.matrix)})
            step = msgspec.structs.replace(step, group_key=key)
        rendered.append(step)
    return tuple(rendered)
