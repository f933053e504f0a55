"""In a real browser: /docs renders the API reference from the server's own files, offline."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.e2e.dashboard.browsing import Browsing


def test_the_api_docs_load_nothing_from_elsewhere(browsing: Browsing) -> None:
    page, outside = browsing.page, []

    def only_this_server(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost") and not url.startswith(
            ("data:", "blob:")
        ):
            outside.append(url)
            route.abort()  # type: ignore[attr-defined]
        else:
            route.continue_()  # type: ignore[attr-defined]

    page.route("**/*", only_this_server)
    page.goto("/docs")
    page.get_by_text("listRuns", exact=False).or_(page.get_by_text("pipeline-runs")).first.wait_for(
        timeout=20_000
    )
    assert outside == []
