"""The example pipeline `flowledger up` offers on a fresh data folder: a first run in one command.

Three steps as a DAG: `hello` first, then `build` and `test` side by side. It shows logs from
stdout and stderr, a parameter, an output, and the runner's environment.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from adapters.platform.services import Services
from commands.context import CommandContext, Principal
from commands.pipelines import CreatePipeline
from commands.projects import CreateProject
from domain.parameter_spec import ParameterSpec
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec

EXAMPLE_NAME = "example"
ACTOR = "flowledger up"

HELLO = """\
echo "hello, $FLOWLEDGER_PARAM_who: this is step $FLOWLEDGER_STEP of run $FLOWLEDGER_RUN_ID"
echo "working in $(pwd)"
echo "greeting=hello $FLOWLEDGER_PARAM_who" >> "$FLOWLEDGER_OUTPUTS"
"""
BUILD = """\
for part in one two three; do
  echo "building part $part"
  sleep 0.5
done
"""
TEST = """\
echo "running the tests"
echo "a warning on stderr, interleaved with stdout" >&2
echo "3 passed"
"""


def example_definition() -> PipelineDefinition:
    return PipelineDefinition(
        name=EXAMPLE_NAME,
        description="Three steps as a DAG: hello, then build and test side by side.",
        tags=("example",),
        parameters=(
            ParameterSpec(name="who", default="world", description="whom the first step greets"),
        ),
        steps=(
            StepSpec(name="hello", run=HELLO, timeout_s=60),
            StepSpec(name="build", run=BUILD, timeout_s=60, needs=("hello",)),
            StepSpec(name="test", run=TEST, timeout_s=60, needs=("hello",)),
        ),
    )


async def create_example(services: Services, *, at: datetime) -> UUID:
    """A project `example` holding the pipeline `example`; the pipeline's id."""
    context = CommandContext(
        principal=Principal(id=ACTOR, name=ACTOR, project_id=None, scopes=frozenset({"admin"})),
        at=at,
        correlation_id=str(uuid4()),
    )
    project = await services.bus.dispatch(
        CreateProject(name="Example", slug=EXAMPLE_NAME, description="Made by `flowledger up`."),
        context,
    )
    pipeline = await services.bus.dispatch(
        CreatePipeline(project_id=UUID(project.id), definition=example_definition()), context
    )
    return UUID(pipeline.id)
