"""In a real browser: a run's artifacts are listed on its page with a download link that
streams the very bytes the step uploaded (through `flowledger up`'s own runner and NATS)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from tests.e2e.dashboard.browsing import Browsing, Site

BUILD = {
    "name": "build",
    "run": "mkdir -p dist && head -c 70000 /dev/urandom > 'dist/app v1.bin'",
    "artifacts": ["dist/app v1.bin"],
}


def _listed_artifacts(site: Site, run: str, within_s: float = 30) -> list[dict[str, Any]]:
    """The run's artifacts once the artifacts view has any: it is a projection of its own, so it
    may reach the runner's upload a moment after the runs view shows the run succeeded."""
    deadline = time.monotonic() + within_s
    while not (listed := site.api.get(f"/api/v1/pipeline-runs/{run}").json()["artifacts"]):
        assert time.monotonic() < deadline, f"run {run} lists no artifact"
        time.sleep(0.1)
    return listed


def test_a_runs_artifact_is_listed_with_a_download_link(browsing: Browsing) -> None:
    site, page = browsing.site, browsing.page
    run = site.trigger(site.pipeline(site.project(), BUILD))
    site.wait_status(run, "succeeded")
    listed = _listed_artifacts(site, run)
    assert [(a["name"], a["size"]) for a in listed] == [("build", 70000)]
    browsing.sign_in()
    page.goto(f"/dashboard/runs/{run}")
    browsing.wait_live()

    row = page.locator("tr[data-artifact='build']")
    row.wait_for(timeout=10_000)
    assert "68.4 KiB" in row.inner_text() and listed[0]["sha256"] in row.inner_text()
    assert "30 days" in row.inner_text()
    link = row.get_by_role("link", name="build")
    assert link.get_attribute("href") == f"/dashboard/runs/{run}/artifacts/build"
    with page.expect_download() as started:
        link.click()
    download = started.value
    assert download.suggested_filename == "app v1.bin"
    body = Path(download.path()).read_bytes()
    assert hashlib.sha256(body).hexdigest() == listed[0]["sha256"] and len(body) == 70000
    assert browsing.axe() == []
    browsing.no_problems()
