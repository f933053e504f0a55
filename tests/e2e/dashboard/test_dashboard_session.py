"""In a real browser: sign-in and out, what a project-bound key may see, CSRF refusals."""

from __future__ import annotations

from tests.e2e.dashboard.browsing import Browsing

QUICK = {"name": "say", "run": "echo hi"}


def test_sign_in_with_an_api_key_then_sign_out(browsing: Browsing) -> None:
    page = browsing.page
    page.goto("/dashboard/runs")
    assert page.url.endswith("/dashboard/sign-in")
    assert browsing.axe() == []
    browsing.screenshot("sign-in")

    page.get_by_label("API key or JWT").fill("flk_not_a_real_key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text()  # refused, said why, still on sign-in
    browsing.problems.clear()  # the refusal's 401, which the console reports

    browsing.sign_in()
    cookie = next(c for c in page.context.cookies() if c["name"] == "flowledger_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie") == ""  # the page's script cannot read it
    assert page.evaluate("() => Object.keys(localStorage).length") == 0

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/dashboard/sign-in")
    page.goto("/dashboard/runs")
    assert page.url.endswith("/dashboard/sign-in")
    browsing.no_problems()


def test_a_project_key_sees_only_its_project(browsing: Browsing) -> None:
    site = browsing.site
    mine, theirs = site.project(), site.project()
    my_run = site.trigger(site.pipeline(mine, QUICK))
    their_run = site.trigger(site.pipeline(theirs, QUICK))
    browsing.sign_in(site.key("read", project=mine))
    page = browsing.page

    page.wait_for_selector(f"tr[data-run='{my_run}']")
    assert page.locator(f"tr[data-run='{their_run}']").count() == 0
    assert page.goto(f"/dashboard/runs/{my_run}").status == 200
    assert page.goto(f"/dashboard/runs/{their_run}").status == 404
    assert page.goto(f"/dashboard/runs/{their_run}/graph.svg").status == 404
    assert page.goto(f"/dashboard/runs?project_id={theirs}").status == 403
    # A read-only key is shown no buttons that would change anything.
    page.goto(f"/dashboard/runs/{my_run}")
    assert page.get_by_role("button", name="Cancel run").count() == 0


def test_a_forged_post_without_the_csrf_token_is_refused(browsing: Browsing) -> None:
    site = browsing.site
    project = site.project()
    run = site.trigger(site.pipeline(project, {"name": "wait", "run": "sleep 30"}))
    browsing.sign_in()
    request = browsing.page.request  # carries the session cookie, as a forged form would

    for headers in ({}, {"X-CSRF-Token": "0" * 64}):
        refused = request.post(f"/dashboard/runs/{run}/cancel", headers=headers)
        assert refused.status == 403, refused.text()
    forged_form = request.post(
        f"/dashboard/runs/{run}/cancel",
        form={"csrf": "x"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert forged_form.status == 403
    assert request.post("/dashboard/sign-out", form={"csrf": ""}).status == 403
    assert site.status(run) in ("queued", "running")
    site.post(f"/api/v1/pipeline-runs/{run}/cancel", {})
