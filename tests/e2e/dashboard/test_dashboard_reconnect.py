"""In a real browser: the gateway's socket drops mid-run; the logs resume with no gap or double."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.dashboard.browsing import Browsing

LINES = 10
STEADY = {
    "name": "count",
    "run": f'sleep 2; for i in $(seq 1 {LINES}); do echo "tick $i"; sleep 0.3; done',
}


def test_logs_resume_after_a_reconnect_without_gap_or_double(browsing: Browsing) -> None:
    site, page = browsing.site, browsing.page
    run = site.trigger(site.pipeline(site.project(), STEADY))
    site.wait_status(run, "running")
    sockets: list[Any] = []

    def through(route: Any) -> None:  # passes everything both ways, and remembers the socket
        route.connect_to_server()
        sockets.append(route)

    page.route_web_socket(re.compile(r".*/ws/runs/.*"), through)
    browsing.sign_in()
    page.goto(f"/dashboard/runs/{run}")
    browsing.wait_live()
    page.locator("#logs .line", has_text="tick 3").wait_for(timeout=20_000)
    sockets[0].close(code=4008, reason="slow consumer; resume after=N")  # as the gateway would

    page.locator("#logs .line", has_text=f"tick {LINES}").wait_for(timeout=30_000)
    ticks = [t.strip() for t in page.locator("#logs .line").all_inner_texts() if "tick" in t]
    assert ticks == [f"count tick {i}" for i in range(1, LINES + 1)], ticks
    assert len(sockets) >= 2  # it did reconnect, with a fresh ticket and after=
    page.wait_for_selector("#run-status:text('succeeded')", timeout=20_000)
