"""The pipeline file in the repository: where it may be, what a read may define, how a file
is parsed and placed (the adapter's `parse`, without git)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.pipeline_code.repository_file import parse
from commands.pipeline_files import FileRead
from domain.errors import IllegalTransition, InvalidValue
from domain.pipeline import Pipeline
from domain.pipeline_definition import PipelineDefinition
from domain.pipeline_file import FileOrigin, FileProblem, RepositoryFileSpec
from domain.step_spec import StepSpec

AT = datetime(2026, 5, 1, 12, tzinfo=UTC)
SPEC = RepositoryFileSpec(path=".flowledger/pipeline.yaml")
BASE = PipelineDefinition(
    name="ci", steps=(StepSpec(name="build", run="make"),), repository_file=SPEC
)
ORIGIN = FileOrigin(repository="o/r", sha="a" * 40, path=SPEC.path)
PIPELINE_ID, PROJECT_ID = uuid4(), uuid4()


def pipeline() -> Pipeline:
    return Pipeline.create(id=PIPELINE_ID, project_id=PROJECT_ID, definition=BASE, at=AT)


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../up.yaml", "a/../../b", "a\\b", "HEAD:x", " ", "a\x00b"]
)
def test_a_path_outside_the_repository_is_refused(path: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        msgspec.structs.replace(BASE, repository_file=RepositoryFileSpec(path=path)).validated()
    assert refused.value.field == "repository_file.path"


@given(
    st.from_regex(r"[A-Za-z0-9_.-]{1,20}(/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,19}){0,3}", fullmatch=True)
)
def test_a_relative_path_without_dot_dot_is_taken(path: str) -> None:
    if ".." in path.split("/"):
        return
    spec = RepositoryFileSpec(path=path)
    assert msgspec.structs.replace(BASE, repository_file=spec).validated().repository_file == spec


def test_a_file_defines_the_next_version_keeping_where_the_file_is() -> None:
    subject = pipeline()
    from_file = PipelineDefinition(name="ci", steps=(StepSpec(name="test", run="make test"),))

    version = subject.define_version_from_repository(from_file, ORIGIN, at=AT)

    assert version == 2
    assert subject.definition().repository_file == SPEC
    assert subject.definition().steps[0].name == "test"
    # The same file again decides nothing: the run uses the version it already defined.
    assert subject.define_version_from_repository(from_file, ORIGIN, at=AT) == 2
    assert len(subject.collect_events()) == 2


def test_a_file_cannot_move_the_pipeline_file_or_pick_another_secret() -> None:
    elsewhere = RepositoryFileSpec(path=SPEC.path, token_secret="OTHER")
    with pytest.raises(InvalidValue) as refused:
        pipeline().define_version_from_repository(
            msgspec.structs.replace(BASE, repository_file=elsewhere), ORIGIN, at=AT
        )
    assert refused.value.field == "repository_file"


def test_an_inactive_pipeline_takes_no_file() -> None:
    subject = pipeline()
    subject.deactivate(at=AT)
    with pytest.raises(IllegalTransition):
        subject.define_version_from_repository(BASE, ORIGIN, at=AT)


@pytest.mark.parametrize(
    ("text", "field", "line", "column"),
    [
        ("name: a\nsteps:\n  - name: b\n    run: x\n    retries: many\n",
         "steps[0].retries", 5, 14),
        ("name: a\nsteps:\n  - {name: b, run: x, needs: [c]}\n", "steps[0].needs", 3, 30),
        ("name: [a\n", "", 2, 1),
        ("x: &a 1\nname: *a\nsteps: []\n", "", 2, 7),
        (f"id: {uuid4()}\nname: a\nsteps: [{{name: b, run: x}}]\n", "id", 1, 5),
        ("name: a\nsteps: [{name: b, run: x}]\ncolour: blue\n", "", None, None),
    ],
)  # fmt: skip
def test_a_refused_file_is_placed(
    text: str, field: str, line: int | None, column: int | None
) -> None:
    found = parse(text.encode(), PIPELINE_ID, PROJECT_ID)
    assert isinstance(found, FileProblem), found
    assert (found.field, found.line, found.column) == (field, line, column), found


def test_a_good_file_keeps_its_places_for_later_refusals() -> None:
    text = (
        f"id: {PIPELINE_ID}\nproject_id: {PROJECT_ID}\nname: a\nsteps:\n  - {{name: b, run: x}}\n"
    )
    found = parse(text.encode(), PIPELINE_ID, PROJECT_ID)
    assert isinstance(found, FileRead)
    assert found.definition.name == "a"
    refusal = found.problem("steps[0].run", "no good")
    assert (refusal.line, refusal.column, str(refusal)) == (
        5,
        20,
        "line 5, column 20: steps[0].run: no good",
    )
