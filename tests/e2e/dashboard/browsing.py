"""What the dashboard's browser tests share: the site, a page that records problems, axe."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
IMAGES = Path(__file__).parents[3] / "docs" / "images"
SERIOUS = ("serious", "critical")


@dataclass
class Site:
    base: str
    admin: str
    api: httpx.Client
    log: Path

    def post(self, path: str, body: Any, key: str | None = None) -> dict[str, Any]:
        headers = None if key is None else {"X-API-Key": key}
        answer = self.api.post(path, json=body, headers=headers)
        assert answer.status_code in (200, 201, 202), answer.text
        return answer.json()

    def project(self) -> str:
        slug = f"dash-{uuid4().hex[:10]}"
        return self.post("/api/v1/projects", {"name": slug, "slug": slug})["id"]

    def pipeline(self, project: str, *steps: dict[str, Any]) -> str:
        body = {"project_id": project, "name": f"p-{uuid4().hex[:8]}", "steps": list(steps)}
        return self.post("/api/v1/pipelines", body)["id"]

    def trigger(self, pipeline: str) -> str:
        return self.post(f"/api/v1/pipelines/{pipeline}/runs", {})["id"]

    def key(self, *scopes: str, project: str | None = None) -> str:
        body: dict[str, Any] = {"name": f"k-{uuid4().hex[:6]}", "scopes": list(scopes)}
        if project is not None:
            body["project_id"] = project
        return self.post("/api/v1/api-keys", body)["secret"]

    def status(self, run: str) -> str | None:
        """The run's status as the views have it (None until they have the run)."""
        answer = self.api.get(f"/api/v1/pipeline-runs/{run}/status")
        return answer.json()["status"] if answer.status_code == 200 else None

    def wait_status(self, run: str, wanted: str, within_s: float = 30) -> None:
        deadline = time.monotonic() + within_s
        while (now := self.status(run)) != wanted:
            assert time.monotonic() < deadline, f"run {run} is {now}, not {wanted}"
            time.sleep(0.1)


@dataclass
class Browsing:
    page: Any
    site: Site
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        def console(message: Any) -> None:
            if message.type == "error" or "Content Security Policy" in message.text:
                self.problems.append(message.text)

        self.page.on("console", console)
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))

    def sign_in(self, token: str | None = None) -> None:
        self.page.goto("/dashboard/runs")  # redirected to the sign-in page
        self.page.get_by_label("API key or JWT").fill(token or self.site.admin)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/dashboard/runs")

    def wait_live(self) -> None:
        """Until the page's socket to the gateway is open."""
        self.page.wait_for_function("() => document.body.dataset.live === 'open'", timeout=10_000)

    def axe(self) -> list[str]:
        """Serious or critical accessibility violations of the page as it is now."""
        # Evaluated through the debugging protocol: the page's CSP does not apply to it.
        self.page.evaluate("source => { (0, eval)(source); }", AXE.read_text())
        found = self.page.evaluate("async () => (await axe.run()).violations")
        return [
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
            for v in found
            if v["impact"] in SERIOUS
        ]

    def screenshot(self, name: str) -> None:
        IMAGES.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(IMAGES / f"dashboard-{name}.png"), full_page=True)

    def no_problems(self) -> None:
        assert self.problems == [], self.problems
