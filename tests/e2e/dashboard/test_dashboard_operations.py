"""In a real browser: projections, runners, webhook sources and their latest deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
from uuid import uuid4

from tests.e2e.dashboard.browsing import Browsing


def test_operations_show_views_runners_sources_and_deliveries(browsing: Browsing) -> None:
    site, page = browsing.site, browsing.page
    project = site.project()
    secret = "s3cret-" + uuid4().hex
    source = site.post(
        "/api/v1/webhook-sources",
        {
            "project_id": project,
            "kind": "github",
            "name": f"gh-{uuid4().hex[:6]}",
            "secret": secret,
        },
    )["id"]
    body = json.dumps(
        {"ref": "refs/heads/main", "after": "a" * 40, "repository": {"full_name": "o/r"}}
    )
    delivery = uuid4().hex
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    sent = site.api.post(
        f"/webhooks/github/{source}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": f"sha256={signature}",
        },
    )
    assert sent.status_code == 202, sent.text
    browsing.sign_in()
    page.get_by_role("link", name="Operations").click()
    page.wait_for_url("**/dashboard/operations")

    assert page.locator("tr[data-projection=runs][data-state=running]").count() == 1
    assert page.locator("tr[data-runner]").count() >= 1
    assert page.locator(f"tr[data-source='{source}']").count() == 1
    page.locator(f"tr:has(code:text('{delivery}'))").wait_for(timeout=10_000)
    assert browsing.axe() == []
    browsing.screenshot("operations")
    browsing.no_problems()


def test_a_project_key_sees_no_global_views(browsing: Browsing) -> None:
    site = browsing.site
    browsing.sign_in(site.key("read", project=site.project()))
    browsing.page.goto("/dashboard/operations")
    assert browsing.page.locator("table.projections").count() == 0
    assert browsing.page.locator("table.sources").count() == 0
    assert browsing.page.locator("table.runners").count() == 1
