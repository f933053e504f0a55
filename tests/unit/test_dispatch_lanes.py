"""Which woken runs the dispatcher may dispatch side by side: those whose pinned definition
joins no concurrency group (a group admits in the order runs join it)."""

from __future__ import annotations

from uuid import uuid4

from commands.dispatch import joins_no_group, requested_definition
from domain.concurrency_spec import ConcurrencySpec
from domain.pipeline_definition import PipelineDefinition, StepSpec

STEPS = (StepSpec(name="build", run="make"), StepSpec(name="test", run="make test"))


def test_a_definition_without_groups_joins_none() -> None:
    assert joins_no_group(PipelineDefinition(name="ci", steps=STEPS))


def test_a_run_level_group_or_a_step_level_group_joins_one() -> None:
    group = ConcurrencySpec(group="deploy", policy="queue")
    assert not joins_no_group(PipelineDefinition(name="ci", steps=STEPS, concurrency=group))
    grouped_step = StepSpec(name="deploy", run="make deploy", concurrency=group)
    assert not joins_no_group(PipelineDefinition(name="ci", steps=(*STEPS, grouped_step)))


def test_only_a_run_requested_names_its_pinned_definition() -> None:
    pipeline_id = uuid4()
    data = {"pipeline_id": str(pipeline_id), "pipeline_version": 3, "step": "build"}
    assert requested_definition("RunRequested", data) == (pipeline_id, 3)
    for other in ("StepSucceeded", "StepQueued", "ApprovalDecided", "RunCancelRequested"):
        assert requested_definition(other, data) is None
