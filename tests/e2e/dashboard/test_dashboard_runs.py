"""In a real browser: runs appear and turn green live, logs stream, a run is cancelled."""

from __future__ import annotations

from tests.e2e.dashboard.browsing import Browsing

SLOW_LOGS = {
    "name": "build",
    "run": "for i in 1 2 3 4 5 6; do printf '\\033[32mline %s\\033[0m ok\\n' $i; sleep 0.4; done",
}
CHECK = {"name": "check", "run": "echo checked", "needs": ["build"]}


def test_a_run_appears_turns_green_and_its_logs_stream(browsing: Browsing) -> None:
    site, page = browsing.site, browsing.page
    project = site.project()
    pipeline = site.pipeline(project, SLOW_LOGS, CHECK)
    browsing.sign_in()
    browsing.wait_live()

    run = site.trigger(pipeline)  # after the page loaded: only the socket can show it
    row = page.locator(f"tr[data-run='{run}']")
    row.wait_for(timeout=10_000)
    page.wait_for_selector(f"tr[data-run='{run}'][data-status=succeeded]", timeout=30_000)
    assert browsing.axe() == []
    browsing.screenshot("runs")

    second = site.trigger(pipeline)
    page.locator(f"tr[data-run='{second}'] a").click()  # from the list, as a person would
    page.wait_for_url(f"**/dashboard/runs/{second}")
    browsing.wait_live()
    page.locator("#logs .line", has_text="line 6 ok").wait_for(timeout=20_000)
    page.wait_for_selector("#run-status:text('succeeded')", timeout=20_000)
    lines = page.locator("#logs .line").all_inner_texts()
    printed = [text.strip() for text in lines if "line " in text]
    assert printed == [f"build line {i} ok" for i in range(1, 7)], lines  # no gap, no double
    assert page.locator("#logs .ansi-fg-green", has_text="line 3").count() == 1
    assert page.locator("tr[data-step=check][data-status=succeeded]").count() == 1
    assert browsing.axe() == []
    browsing.screenshot("run")
    browsing.no_problems()


def test_cancel_a_running_run_from_its_page(browsing: Browsing) -> None:
    site, page = browsing.site, browsing.page
    project = site.project()
    run = site.trigger(site.pipeline(project, {"name": "wait", "run": "sleep 60"}))
    site.wait_status(run, "running")
    browsing.sign_in()
    page.goto(f"/dashboard/runs/{run}")
    browsing.wait_live()

    page.get_by_role("button", name="Cancel run").click()
    page.wait_for_selector("#run-status:text('cancelled')", timeout=30_000)
    assert site.status(run) == "cancelled"
    browsing.no_problems()


def test_approve_a_waiting_step_from_its_run_page(browsing: Browsing) -> None:
    site, page = browsing.site, browsing.page
    project = site.project()
    steps = ({"name": "ask", "kind": "approval", "prompt": "Go?"}, {"name": "go", "run": "true"})
    run = site.trigger(site.pipeline(project, *steps))
    site.wait_status(run, "waiting_for_approval")
    browsing.sign_in()
    page.goto(f"/dashboard/runs/{run}")
    browsing.wait_live()

    page.get_by_role("button", name="Approve").click()
    site.wait_status(run, "succeeded")
    page.wait_for_selector("#run-status:text('succeeded')", timeout=30_000)
    browsing.no_problems()
