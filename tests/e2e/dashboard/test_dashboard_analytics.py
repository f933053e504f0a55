"""In a real browser: AI usage per model and per pipeline, model and day, and failures by kind,
from steps a real `flowledger up` ran (usage reported through $FLOWLEDGER_OUTPUTS)."""

from __future__ import annotations

from uuid import uuid4

from tests.e2e.dashboard.browsing import Browsing

USAGE = (
    'echo "ai.model={model}" >> "$FLOWLEDGER_OUTPUTS"\n'
    'echo "ai.provider=openai" >> "$FLOWLEDGER_OUTPUTS"\n'
    'echo "ai.input_tokens=1200" >> "$FLOWLEDGER_OUTPUTS"\n'
    'echo "ai.output_tokens=345" >> "$FLOWLEDGER_OUTPUTS"\n'
    'echo "ai.cost=0.0125" >> "$FLOWLEDGER_OUTPUTS"\n'
    'echo "ai.currency=USD" >> "$FLOWLEDGER_OUTPUTS"\n'
)


def test_analytics_show_usage_per_model_and_day_and_failures_by_kind(browsing: Browsing) -> None:
    site, page = browsing.site, browsing.page
    project, tag = site.project(), uuid4().hex[:8]
    model, failing = f"gpt-test-{tag}", f"flaky-{tag}"
    agent = site.pipeline(project, {"name": "ask", "run": USAGE.format(model=model)})
    for _ in range(2):
        site.wait_status(site.trigger(agent), "succeeded")
    broken = site.pipeline(project, {"name": failing, "run": "echo no; exit 3"})
    site.wait_status(site.trigger(broken), "failed")
    name = site.api.get(f"/api/v1/pipelines/{agent}").json()["name"]

    browsing.sign_in()
    page.get_by_role("link", name="AI analytics").click()
    page.wait_for_url("**/dashboard/analytics")

    total = page.locator(f"tr[data-model-total='{model}']")
    assert total.locator("td").all_inner_texts() == [
        model, "openai", "2", "2,400", "690", "0.0250 USD",
    ]  # fmt: skip
    [day] = page.locator(f"tr[data-model='{model}']").all()
    assert day.locator("td").nth(1).inner_text() == name
    assert day.locator("td").nth(2).inner_text() == f"{model} (openai)"
    assert day.locator("td").nth(4).inner_text() == "2,400"
    error = page.locator(f"tr[data-error-step='{failing}'][data-exit-code='3']")
    assert error.locator("td").nth(2).inner_text() == "exit code 3"
    assert error.locator("td").nth(3).inner_text() == "1"

    page.get_by_label("Window").select_option("7")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/dashboard/analytics?days=7")
    assert page.locator(f"tr[data-model='{model}']").count() == 1
    assert browsing.axe() == []
    browsing.screenshot("analytics")
    browsing.no_problems()


def test_another_projects_usage_is_not_shown(browsing: Browsing) -> None:
    site, tag = browsing.site, uuid4().hex[:8]
    theirs = site.pipeline(site.project(), {"name": "ask", "run": USAGE.format(model=tag)})
    site.wait_status(site.trigger(theirs), "succeeded")
    browsing.sign_in(site.key("read", project=site.project()))
    browsing.page.goto("/dashboard/analytics")
    assert browsing.page.locator(f"tr[data-model='{tag}']").count() == 0
    assert browsing.page.locator("table.usage").count() == 1
