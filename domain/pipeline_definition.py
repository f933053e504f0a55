"""A pipeline's definition: one version of its steps, parameters and triggers, and its rules.

Its parts live beside it: `domain/step_spec.py`, `domain/parameter_spec.py`,
`domain/trigger_spec.py`; the needs graph in `domain/step_graph.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Annotated

import msgspec
from msgspec import Meta

from domain.concurrency_spec import ConcurrencySpec
from domain.conditions import check_references
from domain.definition_checks import check_text, check_unique, check_unique_names
from domain.errors import InvalidValue
from domain.limits import (
    DESCRIPTION_MAX,
    ITEMS_MAX,
    NAME_MAX,
    STEPS_MAX,
    TAG_MAX,
    Description,
    Name,
    Tag,
)
from domain.matrix import check_plan_size
from domain.parameter_spec import ParameterSpec, ParameterValue, resolve_parameters
from domain.pipeline_file import RepositoryFileSpec
from domain.step_files import check_downloads
from domain.step_graph import check_needs, is_sequential, needs_graph, ready, topological_order
from domain.step_options import check_templates
from domain.step_spec import StepSpec
from domain.trigger_schedule import check_schedules
from domain.trigger_spec import TriggerSpec

_ITEMS = Meta(max_length=ITEMS_MAX)


class PipelineDefinition(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One version of a pipeline: its steps (a DAG over `needs`), parameters and triggers.

    Sequential by default: when no step declares `needs`, each step needs the one before it
    (see `effective_needs`). Once any step declares `needs`, they are taken as written and a
    step without `needs` may start at once.
    """

    name: Name
    description: Description = ""
    tags: Annotated[tuple[Tag, ...], _ITEMS] = ()
    parameters: Annotated[tuple[ParameterSpec, ...], _ITEMS] = ()
    steps: Annotated[tuple[StepSpec, ...], Meta(max_length=STEPS_MAX)]
    triggers: Annotated[tuple[TriggerSpec, ...], _ITEMS] = ()
    concurrency: ConcurrencySpec | None = None
    """One run of the group at a time (`domain/concurrency_spec.py`)."""
    step_statuses: bool = False
    """Besides the run's, report each step to the commit as its own status (or check run),
    named `flowledger/<pipeline>/<step>`."""
    repository_file: RepositoryFileSpec | None = None
    """A pipeline file in the repository: a push reads it at the pushed sha and its run uses
    the version it defines (`domain/pipeline_file.py`)."""

    def validated(self) -> PipelineDefinition:
        """This definition, name and description trimmed; or InvalidValue naming a broken rule."""
        name, description = self.name.strip(), self.description.strip()
        check_text(name, "name", NAME_MAX)
        check_text(description, "description", DESCRIPTION_MAX, blank=True)
        check_unique(self.tags, "tags", "tag")
        for i, tag in enumerate(self.tags):
            if tag != tag.strip():
                raise InvalidValue(f"tags[{i}]", "must not start or end with a space")
            check_text(tag, f"tags[{i}]", TAG_MAX)
        if not 1 <= len(self.steps) <= STEPS_MAX:
            raise InvalidValue("steps", f"must have 1 to {STEPS_MAX} steps")
        for i, step in enumerate(self.steps):
            step.check(f"steps[{i}]")
        check_unique_names(self.steps, "steps", "step")
        check_needs(self.steps)
        check_downloads(self.steps, needs_graph(self.steps))
        conditions = ((i, step.name, step.if_) for i, step in enumerate(self.steps))
        check_references(conditions, self.effective_needs)
        check_plan_size([step.matrix for step in self.steps])
        if self.concurrency is not None:
            self.concurrency.check("concurrency")
        for i, parameter in enumerate(self.parameters):
            parameter.check(f"parameters[{i}]")
        check_unique_names(self.parameters, "parameters", "parameter")
        check_templates(self)
        for i, trigger in enumerate(self.triggers):
            trigger.check(f"triggers[{i}]")
        check_schedules(self.triggers, self.resolve_parameters)
        if self.repository_file is not None:
            self.repository_file.check("repository_file")
        return msgspec.structs.replace(self, name=name, description=description)

    @property
    def sequential(self) -> bool:
        """True when no step declares `needs`, so the steps run one after another."""
        return is_sequential(self.steps)

    def effective_needs(self, step: str) -> tuple[str, ...]:
        """The steps `step` waits for: its `needs`, or the previous step when sequential."""
        graph = needs_graph(self.steps)
        if step not in graph:
            raise InvalidValue("step", f"unknown step {step!r}")
        return graph[step]

    def ready_steps(self, done: Set[str]) -> tuple[str, ...]:
        """Steps not in `done` whose effective needs are all in it, in declaration order.

        `done` holds the steps whose dependents may go on; the caller leaves out the ready
        steps it has already started.
        """
        graph = needs_graph(self.steps)
        if unknown := sorted(done - graph.keys()):
            raise InvalidValue("done", f"unknown step {unknown[0]!r}")
        return tuple(ready(graph, done))

    def topological_order(self) -> tuple[str, ...]:
        """Every step after the steps it needs; among steps free at once, declaration order."""
        return topological_order(needs_graph(self.steps))

    def resolve_parameters(self, given: Mapping[str, object]) -> dict[str, ParameterValue]:
        """A run's parameters: `given` checked strictly against their types, plus defaults.

        An unknown name, a missing required parameter or a value of the wrong type is an
        InvalidValue at `parameters.<name>`. An optional parameter with no default and no
        value is left out.
        """
        return resolve_parameters(self.parameters, given)
