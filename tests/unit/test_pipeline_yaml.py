"""Pipeline files read safely: any text either loads as plain data or is refused with a reason
(never another exception, never an object, never an alias expanded)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.pipeline_code.diff import definition_diff
from adapters.pipeline_code.document import canonical
from adapters.pipeline_code.yaml_text import YamlRefused, load_yaml, path_in
from domain.pipeline_definition import PipelineDefinition
from domain.step_spec import StepSpec

PLAIN = (str, int, float, bool, type(None), list, dict, datetime.date, datetime.datetime, bytes)


def plain(value: object) -> bool:
    if isinstance(value, dict):
        return all(plain(k) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return isinstance(value, PLAIN)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\n ,?%@`\t1.")), max_size=200))
def test_any_text_loads_as_plain_data_or_is_refused(text: str) -> None:
    try:
        loaded = load_yaml(text)
    except YamlRefused as refused:
        assert refused.reason
        if refused.line is not None:
            assert refused.line >= 1 and refused.column >= 1
        return
    assert plain(loaded.data)


def test_tags_that_build_objects_are_refused() -> None:
    with pytest.raises(YamlRefused, match="constructor"):
        load_yaml("a: !!python/object/apply:os.system ['true']\n")


def test_an_alias_is_refused_where_it_stands() -> None:
    with pytest.raises(YamlRefused) as refused:
        load_yaml("a: &x 1\nb:\n  - *x\n")
    assert (refused.value.line, refused.value.column) == (3, 5)


def test_size_and_depth_are_bounded() -> None:
    with pytest.raises(YamlRefused, match="at most 10 bytes"):
        load_yaml("name: twelve", max_bytes=10)
    with pytest.raises(YamlRefused, match="nested too deeply"):
        load_yaml("[" * 10_000)


def test_places_follow_paths_up_to_the_nearest_written_value() -> None:
    loaded = load_yaml("name: x\nsteps:\n  - name: a\n    run: make\n")
    assert loaded.place("steps[0].run") == (4, 10)
    assert loaded.place("steps[0].labels") == (3, 5)  # not written: its step
    assert loaded.place("triggers") is None
    assert path_in("Expected `int`, got `str` - at `$.steps[0].retries`") == "steps[0].retries"
    assert path_in("Object contains unknown field `x`") is None


def test_the_diff_shows_only_real_changes() -> None:
    one = PipelineDefinition(name="p", steps=(StepSpec(name="a", run="make"),))
    two = PipelineDefinition(name="p", steps=(StepSpec(name="a", run="make all"),))
    assert definition_diff(canonical(one), one, current_name="a", new_name="b") == ""
    diff = definition_diff(canonical(one), two, current_name="a", new_name="b")
    assert "-  run: make\n" in diff and "+  run: make all\n" in diff
    assert diff.count("\n-") == 1 and diff.count("\n+") == 1 + 1  # the header and the line
