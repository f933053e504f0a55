"""The map behind read-your-writes: bounded in callers, forgetful after its TTL, off at 0 ms."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.http.own_writes import OwnWrites
from adapters.platform.settings import SettingsError, load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_awaits_its_latest_write_only() -> None:
    writes = OwnWrites(wait_ms=2000)
    writes.note("key:a", 7)
    writes.note("key:a", 5)  # a slower twin answering late does not lower it
    writes.note("key:a", None)  # nothing written

    assert writes.awaited("key:a") == 7
    assert writes.awaited("key:b") is None
    assert writes.wait_s == 2.0


def test_a_write_is_forgotten_after_the_ttl() -> None:
    clock = Clock()
    writes = OwnWrites(wait_ms=2000, ttl_s=10, timer=clock)
    writes.note("key:a", 3)
    clock.now = 9.9
    assert writes.awaited("key:a") == 3
    clock.now = 10.1

    assert writes.awaited("key:a") is None
    assert len(writes) == 0


def test_past_the_bound_the_least_recently_written_caller_is_forgotten() -> None:
    writes = OwnWrites(wait_ms=2000, max_callers=2)
    writes.note("key:a", 1)
    writes.note("key:b", 2)
    writes.note("key:a", 3)
    writes.note("key:c", 4)

    assert (writes.awaited("key:a"), writes.awaited("key:b"), writes.awaited("key:c")) == (
        3,
        None,
        4,
    )


@given(
    st.integers(1, 20),
    st.lists(st.tuples(st.text(max_size=4), st.integers(0, 10**12), st.floats(0, 5)), max_size=200),
)
def test_the_map_never_holds_more_than_its_bound(
    bound: int, notes: list[tuple[str, int, float]]
) -> None:
    clock = Clock()
    writes = OwnWrites(wait_ms=1, max_callers=bound, ttl_s=10, timer=clock)
    for caller, position, later in notes:
        clock.now += later
        writes.note(caller, position)
        assert len(writes) <= bound
        assert writes.awaited(caller) is not None and writes.awaited(caller) >= position


def test_zero_turns_it_off() -> None:
    writes = OwnWrites(wait_ms=0)
    writes.note("key:a", 9)

    assert not writes.enabled
    assert writes.awaited("key:a") is None and len(writes) == 0


def test_the_setting_is_read_and_checked(tmp_path: Path) -> None:
    assert load_settings({}, tmp_path).read_your_writes_ms == 2000
    env = {"FLOWLEDGER_READ_YOUR_WRITES_MS": "0"}
    assert load_settings(env, tmp_path).read_your_writes_ms == 0
    with pytest.raises(SettingsError, match="READ_YOUR_WRITES_MS"):
        load_settings({"FLOWLEDGER_READ_YOUR_WRITES_MS": "-1"}, tmp_path)
