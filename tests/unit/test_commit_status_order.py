"""A report never takes a commit back: what `behind` allows after what the host last showed."""

from __future__ import annotations

import pytest

from domain.commit_status import RUN_STATES, behind

OUTCOMES = ("success", "failure", "cancelled")


@pytest.mark.parametrize("state", RUN_STATES)
def test_anything_goes_before_the_first_accepted_report(state: str) -> None:
    assert not behind(None, state)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_after_an_outcome_queued_and_running_are_late(outcome: str) -> None:
    assert behind(outcome, "queued")
    assert behind(outcome, "running")


def test_running_after_queued_and_an_outcome_after_running_go_out() -> None:
    assert not behind("queued", "running")
    assert not behind("running", "success")
    assert behind("running", "queued")


@pytest.mark.parametrize("state", RUN_STATES)
def test_the_same_state_again_goes_out(state: str) -> None:
    assert not behind(state, state)
