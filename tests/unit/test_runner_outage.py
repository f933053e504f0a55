"""A runner whose server is gone: one line when it goes, one a minute after, then it gives up."""

from __future__ import annotations

import logging

import pytest

from adapters.runner.outage import Outage, ServerGone


def test_says_so_once_a_minute_then_gives_up(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = Outage("http://api", give_up_after_s=150, clock=lambda: now[0])
    caplog.set_level(logging.INFO)
    for second in range(0, 150, 5):
        now[0] = float(second)
        outage.failed("heartbeat", ConnectionError("refused"))
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3, said  # at 0 s, 60 s and 120 s
    assert "cannot reach the server" in said[0] and "http://api" in said[0]
    now[0] = 150.0
    with pytest.raises(ServerGone, match="unreachable for 150s"):
        outage.failed("heartbeat", ConnectionError("refused"))


def test_a_server_back_ends_the_outage(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = Outage("http://api", give_up_after_s=10, clock=lambda: now[0])
    outage.failed("heartbeat", ConnectionError("refused"))
    now[0] = 8.0
    outage.recovered()
    assert not outage.ongoing
    now[0] = 15.0
    outage.failed("heartbeat", ConnectionError("refused"))  # a new outage: no give-up yet
    assert outage.ongoing
