"""In a real browser: a pipeline's versions and their diff, triggers, graph and daily chart."""

from __future__ import annotations

from tests.e2e.dashboard.browsing import Browsing

FIRST = [{"name": "build", "run": "echo v1"}]
SECOND = [{"name": "build", "run": "echo v2"}, {"name": "ship", "run": "true", "needs": ["build"]}]


def test_versions_their_diff_triggers_and_the_days_chart(browsing: Browsing) -> None:
    site, page = browsing.site, browsing.page
    project = site.project()
    pipeline = site.pipeline(project, *FIRST)
    for _ in range(2):
        site.wait_status(site.trigger(pipeline), "succeeded")
    name = site.api.get(f"/api/v1/pipelines/{pipeline}").json()["name"]
    second = {
        "name": name,
        "steps": SECOND,
        "triggers": [{"source": "github", "events": ["push"], "branches": ["main"]}],
    }
    answer = site.api.put(f"/api/v1/pipelines/{pipeline}", json=second)
    assert answer.status_code == 202, answer.text

    browsing.sign_in()
    page.get_by_role("link", name="Pipelines").click()
    page.locator(f"tr[data-pipeline='{pipeline}'] a").first.click()
    page.wait_for_url(f"**/dashboard/pipelines/{pipeline}")
    page.wait_for_selector("ol.versions li:nth-child(2)")  # version 2, once the view has it
    diff = page.locator("#diff").inner_text()
    assert "echo v1" in diff and "echo v2" in diff and '"ship"' in diff
    assert page.locator("#diff .added", has_text="echo v2").count() == 1
    assert (
        '"branches": ["main"]'
        in page.get_by_role("heading", name="Triggers")
        .locator("xpath=following-sibling::ul[1]")
        .inner_text()
    )
    assert page.locator("#stats-summary").inner_text().startswith("2 runs; success rate 100%")
    assert page.locator("figure.chart svg polyline").count() == 2  # p50 and p95
    assert page.locator("#graph").evaluate("img => img.complete && img.naturalWidth > 0")
    assert browsing.axe() == []
    browsing.screenshot("pipeline")
    browsing.no_problems()


def test_another_projects_pipeline_is_not_found(browsing: Browsing) -> None:
    site = browsing.site
    theirs = site.pipeline(site.project(), *FIRST)
    browsing.sign_in(site.key("read", project=site.project()))
    assert browsing.page.goto(f"/dashboard/pipelines/{theirs}").status == 404
    assert browsing.page.goto(f"/dashboard/pipelines/{theirs}/graph.svg").status == 404
