"""A real `flowledger up` (its own PostgreSQL, NATS, runner) and Debian's Chromium, headless."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.dashboard.browsing import Browsing, Site
from tests.e2e.test_up import free_port, start_up, stop_with_ctrl_c, wait_ready

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get update && apt-get install -y --no-install-recommends chromium"

if not CHROMIUM.exists():
    pytest.skip(f"Chromium is missing: install it with `{INSTALL}`", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    """`flowledger up` on a fresh data folder; its URL and the admin key it printed."""
    workdir = Path(tempfile.mkdtemp(prefix="flowledger-dashboard-"))
    data_dir, log, port = workdir / "data", workdir / "up.log", free_port()
    up = start_up(workdir, data_dir, port, log)
    try:
        wait_ready(up, port, log)
        key = re.search(r"X-API-Key: (\S+)", log.read_text())
        assert key, log.read_text()
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"X-API-Key": key.group(1)}) as api:
            yield Site(base=base, admin=key.group(1), api=api, log=log)
    finally:
        stop_with_ctrl_c(up, log)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    # Per module: sync playwright marks its event loop running in this thread while it is
    # open, and later tests of the session call asyncio.run().
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def browsing(chromium: object, site: Site) -> Iterator[Browsing]:
    """A fresh browser context (no cookies) that records console errors and CSP violations."""
    context = chromium.new_context(base_url=site.base, viewport={"width": 1280, "height": 900})
    try:
        yield Browsing(context.new_page(), site)
    finally:
        context.close()
