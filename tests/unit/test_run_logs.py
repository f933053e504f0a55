"""Specs for a run's log: sequence numbers per channel, duplicates, gaps, sizes and truncation."""

from __future__ import annotations

import pytest
from run_facts import BUILD_RUNNING, FINISHED, GITHUB, RUN_IN, at, requested, run_event, spec

from domain import run_logs
from domain.errors import IllegalTransition, InvalidValue, LogSequenceGap, UnknownStep


def chunk(seq: int, step: str | None = "build", text: str = "ok\n", t: float = 3) -> tuple:
    return run_event("LogChunkAppended", t, seq=seq, step=step, stream="stdout", text=text)


def append(seq: int, step: str | None = "build", text: str = "ok\n", stream: str = "stdout"):
    return lambda r: r.append_log(seq=seq, step=step, stream=stream, text=text, at=at(3))


def test_the_first_chunk_of_a_channel_is_number_one() -> None:
    run = spec().given(*BUILD_RUNNING).when(append(1)).then(chunk(1))
    assert (run.next_log_seq("build"), run.next_log_seq(), run.log_bytes) == (2, 1, 3)


def test_each_step_and_the_run_itself_have_their_own_sequence() -> None:
    spec().given(*BUILD_RUNNING, chunk(1), chunk(2)).when(append(1, step=None)).then(
        chunk(1, step=None)
    )
    spec().given(*BUILD_RUNNING, chunk(1, step=None)).when(append(1, step="test")).then(
        chunk(1, step="test")
    )


def test_the_next_chunk_is_appended() -> None:
    spec().given(*BUILD_RUNNING, chunk(1)).when(append(2, text="ünïcode\n")).then(
        chunk(2, text="ünïcode\n")
    )


@pytest.mark.parametrize("seq", [1, 2])
def test_a_chunk_already_appended_decides_nothing(seq: int) -> None:
    # A runner that did not hear back sends the chunk again.
    spec().given(*BUILD_RUNNING, chunk(1), chunk(2)).when(append(seq)).then()


def test_a_gap_in_the_sequence_is_refused() -> None:
    error = (
        spec()
        .given(*BUILD_RUNNING, chunk(1))
        .when(append(4))
        .then_raises(LogSequenceGap, step="build", expected=2, got=4)
    )
    assert str(error) == "step build's log expects chunk 2, got 4"


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (append(0), "seq"),
        (append(1, text=""), "text"),
        (append(1, text="é" * (32 * 1024 + 1)), "text"),
        (append(1, text="\ud800"), "text"),
        (append(1, stream="stdin"), "stream"),
    ],
)
def test_an_invalid_chunk_is_refused(command, field: str) -> None:
    spec().given(*BUILD_RUNNING).when(command).then_raises(InvalidValue, field=field)


def test_a_chunk_of_exactly_the_size_limit_is_appended() -> None:
    text = "x" * run_logs.LOG_CHUNK_MAX
    spec().given(*BUILD_RUNNING).when(append(1, text=text)).then(chunk(1, text=text))


def test_a_chunk_for_an_unknown_step_is_refused() -> None:
    spec().given(*BUILD_RUNNING).when(append(1, step="deploy")).then_raises(UnknownStep)


@pytest.mark.parametrize("status", ["queued", "running", "cancelling"])
def test_logs_are_accepted_until_the_run_is_finished(status: str) -> None:
    spec().given(*RUN_IN[status]).when(append(1, step=None)).then(chunk(1, step=None))


@pytest.mark.parametrize("status", FINISHED)
def test_a_log_for_a_finished_run_is_an_illegal_transition(status: str) -> None:
    spec().given(*RUN_IN[status]).when(append(1)).then_raises(
        IllegalTransition, current_state=status, attempted="append a log to"
    )


def test_an_external_run_has_its_own_log() -> None:
    spec().given(requested(external=GITHUB)).when(append(1, step=None)).then(chunk(1, step=None))


def test_past_the_run_cap_one_truncation_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_logs, "LOG_RUN_MAX", 8)
    run = (
        spec()
        .given(*BUILD_RUNNING, chunk(1, text="12345\n"))
        .when(append(2, text="789\n"))
        .then(run_event("LogTruncated", 3, step="build", seq=2, bytes_kept=6))
    )
    assert run.log_truncated


@pytest.mark.parametrize(("step", "seq"), [("build", 3), ("build", 9), (None, 1), ("build", 1)])
def test_after_the_truncation_every_chunk_is_dropped(step: str | None, seq: int) -> None:
    truncated = run_event("LogTruncated", 3, step="build", seq=2, bytes_kept=6)
    spec().given(*BUILD_RUNNING, chunk(1), truncated).when(append(seq, step=step)).then()


def test_the_run_cap_is_sixteen_mebibytes_and_a_chunk_at_most_sixty_four_kibibytes() -> None:
    assert (run_logs.LOG_RUN_MAX, run_logs.LOG_CHUNK_MAX) == (16 * 2**20, 64 * 2**10)
