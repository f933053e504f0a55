"""Progress bars on a terminal (a pseudo-terminal here), nothing at all anywhere else."""

from __future__ import annotations

import io
import os

from adapters.cli.progress import progress


def test_a_terminal_gets_counts_rate_and_time_left() -> None:
    leader, follower = os.openpty()
    with open(follower, "w") as terminal, progress("verifying", stream=terminal) as meter:
        for done in range(0, 1001, 250):
            meter(done, 1000)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    text = drawn.decode(errors="replace")
    assert "verifying" in text
    assert "1000/1000" in text
    assert "events/s" in text
    assert "0:00:00" in text or "-:--:--" in text  # the time-left column


def test_elsewhere_nothing_is_drawn() -> None:
    quiet = io.StringIO()
    with progress("verifying", stream=quiet) as meter:
        meter(5, 10)
    assert quiet.getvalue() == ""
