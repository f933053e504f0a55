"""What the CLI's project commands (`secrets`, `notifications`, `approver-groups`) share: the
API key and URL, the project by id or slug, every page of a list, and the failures a user can
fix as one line and an exit status instead of a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
from uuid import UUID

from adapters.platform.settings import Settings

EXIT_USAGE, EXIT_API = 2, 5
Out = Callable[[str], None]


def with_project_api(
    settings: Settings, args: argparse.Namespace, act: Callable[[Any, str], int], *, err: Out
) -> int:
    """`act(http, project_id)` with a client of the API (`--api`, else the local `up`'s) holding
    the key (`--token`, else FLOWLEDGER_API_KEY), for the project `--project` names."""
    import httpx

    from adapters.cli.run_trigger import RunCommandError, client
    from adapters.runner.launch import api_url_of

    token = args.token or settings.api_key
    if not token:
        err("flowledger: give an API key: --token or FLOWLEDGER_API_KEY")
        return EXIT_USAGE
    api_url = (args.api or api_url_of(settings)).rstrip("/")
    try:
        with client(api_url, token) as http:
            return act(http, project_id_of(http, args.project))
    except RunCommandError as exc:
        err(f"flowledger: {exc}")
        return EXIT_API
    except (OSError, httpx.TransportError) as exc:
        err(f"flowledger: cannot reach the API at {api_url}: {exc}")
        return EXIT_API


def project_id_of(http: Any, ref: str) -> str:
    """The id `ref` is, or the id of the project whose slug it is."""
    try:
        return str(UUID(ref))
    except ValueError:
        pass
    for project in every(http, "/api/v1/projects"):
        if project.get("slug") == ref:
            return str(project["id"])
    from adapters.cli.run_trigger import RunCommandError

    raise RunCommandError(f"no project with the slug {ref!r} (or give its id)")


def every(http: Any, path: str) -> list[dict[str, Any]]:
    """Every item of a paged list, following `next_cursor`."""
    from adapters.cli.run_trigger import answer_of

    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = answer_of(http.get(path, params=params))
        items += page.get("items", [])
        cursor = page.get("next_cursor")
        if not cursor:
            return items
