"""In a real browser: a run's audit timeline, its state at an earlier event, the chain, export."""

from __future__ import annotations

import json

from tests.e2e.dashboard.browsing import Browsing

STEPS = ({"name": "one", "run": "echo one"}, {"name": "two", "run": "echo two", "needs": ["one"]})


def test_the_timeline_the_state_at_an_earlier_event_and_the_verified_chain(
    browsing: Browsing,
) -> None:
    site, page = browsing.site, browsing.page
    run = site.trigger(site.pipeline(site.project(), *STEPS))
    site.wait_status(run, "succeeded")
    browsing.sign_in()
    page.goto(f"/dashboard/runs/{run}")
    page.get_by_role("link", name="Audit: event history").click()
    page.wait_for_url(f"**/dashboard/runs/{run}/audit")

    assert page.locator("#verdict").inner_text().startswith("Intact.")
    types = page.locator(".timeline > li").evaluate_all("items => items.map(i => i.dataset.type)")
    assert types[0] == "RunRequested" and types[-1] == "RunSucceeded", types
    assert "status succeeded" in page.locator("#as-of-summary").inner_text()
    cause = page.locator(".timeline a[href^='#event-']").first  # a causation link, followed
    target = cause.get_attribute("href")
    cause.click()
    assert page.locator(f"li{target}").count() == 1 and page.url.endswith(target)

    page.get_by_label("After event").select_option("1")
    page.get_by_role("button", name="Show state").click()
    page.wait_for_url("**/audit?version=1")
    summary = page.locator("#as-of-summary").inner_text()
    assert summary.startswith(f"As of event 1 of {len(types)} (RunRequested")
    assert "status queued" in summary
    assert browsing.axe() == []
    browsing.screenshot("audit")

    exported = page.request.get(f"/dashboard/runs/{run}/history.ndjson")
    lines = [json.loads(line) for line in exported.text().splitlines()]
    assert [e["type"] for e in lines] == types
    browsing.no_problems()


def test_another_projects_audit_is_not_found(browsing: Browsing) -> None:
    site = browsing.site
    mine, theirs = site.project(), site.project()
    their_run = site.trigger(site.pipeline(theirs, *STEPS))
    site.wait_status(their_run, "succeeded")
    browsing.sign_in(site.key("read", project=mine))
    assert browsing.page.goto(f"/dashboard/runs/{their_run}/audit").status == 404
    assert browsing.page.request.get(f"/dashboard/runs/{their_run}/history.ndjson").status == 404
