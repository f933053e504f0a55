"""A step's file fields and the Run's record of its files: the rules, and what is decided."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.cache_keys import HashFiles, parse_key
from domain.errors import IllegalTransition, InvalidValue, UnknownStep
from domain.limits import ARTIFACTS_PER_RUN_MAX
from domain.pipeline_definition import PipelineDefinition
from domain.run import Run
from domain.run_statuses import TriggerKind
from domain.run_values import StepPlan, Trigger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHA = "ab" * 32


def definition(*steps: dict[str, object]) -> PipelineDefinition:
    return msgspec.convert({"name": "p", "steps": list(steps)}, PipelineDefinition).validated()


def refused(*steps: dict[str, object]) -> str:
    with pytest.raises((InvalidValue, msgspec.ValidationError)) as caught:
        definition(*steps)
    return str(caught.value)


def test_a_cache_key_is_literal_text_and_hash_files_calls() -> None:
    parts = parse_key("deps-${{ hashFiles('uv.lock', '**/req*.txt') }}-v2", "key")
    assert parts == ("deps-", HashFiles(("uv.lock", "**/req*.txt")), "-v2")
    for bad in (
        "x-${{ env.HOME }}",
        "${{ hashFiles() }}",
        "a b",
        "${{ hashFiles('a') }",
        "",
        "x" * 513,
    ):
        with pytest.raises(InvalidValue):
            parse_key(bad, "key")


@given(st.text(alphabet=string.ascii_letters + string.digits + "._/+-", min_size=1, max_size=200))
def test_any_literal_key_is_itself(text: str) -> None:
    assert parse_key(text, "key") == (text,)


def test_file_fields_are_checked_where_they_are_declared() -> None:
    assert "artifacts" in refused(
        {"name": "a", "run": "x", "artifacts": [f"f{i}" for i in range(33)]}
    )
    assert "inside the workspace" in refused({"name": "a", "run": "x", "artifacts": ["a/../../b"]})
    assert "relative" in refused({"name": "a", "run": "x", "artifacts": ["/etc"]})
    assert "listed twice" in refused({"name": "a", "run": "x", "artifacts": ["a", "a"]})
    assert "cache.paths" in refused({"name": "a", "run": "x", "cache": {"key": "k", "paths": []}})
    assert "own artifact" in refused(
        {"name": "a", "run": "x", "artifacts": ["a"], "download": ["a"]}
    )
    assert "no step of that name uploads" in refused(
        {"name": "a", "run": "x"}, {"name": "b", "run": "x", "download": ["a"]}
    )


def test_a_download_must_come_from_a_needs_ancestor() -> None:
    chain = definition(
        {"name": "a", "run": "x", "artifacts": ["out"], "needs": []},
        {"name": "b", "run": "x", "needs": ["a"]},
        {"name": "c", "run": "x", "needs": ["b"], "download": ["a"], "workspace": "clean"},
    )
    assert chain.steps[2].download == ("a",)
    assert "not among the steps" in refused(
        {"name": "a", "run": "x", "artifacts": ["out"]},
        {"name": "b", "run": "x", "download": ["a"]},
        {"name": "c", "run": "x", "needs": ["a"]},
    )


def running_run(*names: str) -> Run:
    run = Run.request(
        id=UUID(int=1), project_id=UUID(int=2), pipeline_id=UUID(int=3), pipeline_version=1,
        trigger=Trigger(kind=TriggerKind.API, actor="t"), parameters={},
        steps=tuple(StepPlan(name=n, needs=(), retries=1, timeout_s=60, allow_failure=False)
                    for n in names),
        at=T0,
    )  # fmt: skip
    for name in names:
        run.queue_step(name, at=T0)
        run.start_step(name, attempt=1, runner="r", at=T0)
    run.collect_events()
    return run


def upload(run: Run, step: str = "build", **changes: object) -> None:
    fields: dict[str, object] = {
        "name": step, "kind": "artifact", "step": step, "attempt": 1, "format": "file",
        "path": "dist/app", "size": 10, "sha256": SHA, "object_key": f"runs/1/artifacts/{step}",
        "retention_days": 30, "at": T0,
    }  # fmt: skip
    run.record_artifact(**(fields | changes))  # type: ignore[arg-type]


def test_an_upload_is_recorded_once_without_content() -> None:
    run = running_run("build")
    upload(run)
    upload(run)  # the same record again: decided already
    (event,) = run.collect_events()
    assert isinstance(event, Run.ArtifactUploaded)
    assert (event.size, event.sha256, event.project_id) == (10, SHA, UUID(int=2))
    upload(run, size=11)  # a new attempt's upload replaces it
    assert len(run.collect_events()) == 1


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": "other"}, InvalidValue),
        ({"step": "nope", "name": "nope"}, UnknownStep),
        ({"attempt": 2}, InvalidValue),
        ({"sha256": "AB" * 32}, InvalidValue),
        ({"size": -1}, InvalidValue),
        ({"format": "zip"}, InvalidValue),
        ({"format": "tar"}, InvalidValue),  # a tar has no path
        ({"kind": "secret"}, InvalidValue),
        ({"retention_days": 0}, InvalidValue),
    ],
)
def test_a_bad_upload_record_is_refused(changes: dict[str, object], error: type) -> None:
    run = running_run("build")
    with pytest.raises(error):
        upload(run, **changes)
    assert run.collect_events() == []


def test_a_finished_run_takes_no_upload_but_its_deletions_and_evictions() -> None:
    run = running_run("build")
    upload(run)
    run.succeed_step("build", attempt=1, exit_code=0, outputs={}, metrics={}, at=T0)
    with pytest.raises(IllegalTransition):
        upload(run, size=12)
    run.delete_artifact(name="build", kind="artifact", reason="retention ended", at=T0)
    run.delete_artifact(name="build", kind="artifact", reason="again", at=T0)
    run.evict_cache(key="k", branch="main", object_key="p/q/main/k", size=5, reason="lru",
                    at=T0 + timedelta(days=1))  # fmt: skip
    kinds = [type(e).__name__ for e in run.collect_events()]
    assert kinds[-2:] == ["ArtifactDeleted", "CacheEvicted"] and kinds.count("ArtifactDeleted") == 1


def test_cache_decisions_and_the_per_run_limit() -> None:
    run = running_run("build")
    with pytest.raises(InvalidValue):
        run.record_cache_restore(step="build", attempt=1, key="k", hit=False, exact=True,
                                 branch="main", object_key="", at=T0)  # fmt: skip
    run.record_cache_restore(step="build", attempt=1, key="k", hit=False, exact=False,
                             branch="main", object_key="", at=T0)  # fmt: skip
    run.cache_records = ARTIFACTS_PER_RUN_MAX
    with pytest.raises(InvalidValue, match="at most"):
        run.record_cache_save(step="build", attempt=1, key="k", branch="main",
                              object_key="p/q/main/k", size=1, sha256=SHA, at=T0)  # fmt: skip


def test_a_cache_hit_records_the_key_it_matched_and_the_restore_key_that_found_it() -> None:
    run = running_run("build")
    restore = dict(step="build", attempt=1, key="deps-b", branch="main", at=T0)
    run.record_cache_restore(**restore, hit=True, exact=True, object_key="p/q/main/deps-b")
    run.record_cache_restore(**restore, hit=True, exact=False, object_key="p/q/main/deps-a",
                             matched_key="deps-a", restore_key="deps-")  # fmt: skip
    exact, by_prefix = run.collect_events()[-2:]
    assert (exact.matched_key, exact.restore_key) == ("deps-b", "")
    assert (by_prefix.matched_key, by_prefix.restore_key, by_prefix.exact) == ("deps-a", "deps-",
                                                                                False)  # fmt: skip
    for changes, field in (
        ({"hit": False, "exact": False, "object_key": "", "matched_key": "deps-a"}, "matched_key"),
        (
            {
                "hit": True,
                "exact": False,
                "object_key": "o",
                "matched_key": "x-a",
                "restore_key": "deps-",
            },
            "matched_key",
        ),
        (
            {
                "hit": True,
                "exact": True,
                "object_key": "o",
                "matched_key": "deps-a",
                "restore_key": "deps-",
            },
            "exact",
        ),
        ({"hit": True, "exact": False, "object_key": "o", "matched_key": "other"}, "matched_key"),
    ):
        with pytest.raises(InvalidValue) as refused_with:
            run.record_cache_restore(**restore, **changes)
        assert refused_with.value.field == field, changes


def test_a_v1_cache_restore_reads_back_with_the_key_itself_matched() -> None:
    upcast = Run.CacheRestored.upcast_v1_to_v2
    v1 = {"step": "b", "attempt": 1, "key": "k", "hit": True, "exact": True, "branch": "main",
          "object_key": "p/q/main/k"}  # fmt: skip
    assert upcast(v1) == {**v1, "matched_key": "k", "restore_key": ""}
    assert upcast({**v1, "hit": False, "exact": False})["matched_key"] == ""
