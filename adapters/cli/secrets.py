"""`flowledger secrets set|list|delete`: a project's secrets, through the API.

The value is read from stdin (or a prompt that does not echo), never from the command line:
argv is visible to every user of the host (`ps`) and kept in shell histories.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import textwrap
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import quote
from uuid import UUID

from adapters.platform.settings import Settings

EXIT_USAGE, EXIT_API = 2, 5
Out = Callable[[str], None]


def add_secrets_commands(commands: argparse._SubParsersAction, handler: Callable) -> None:
    secrets = commands.add_parser(
        "secrets",
        help="a project's secrets: set (value from stdin), list (names only), delete",
        description=textwrap.fill(
            "Manage the secrets steps declare (`secrets: [NAME]` in a step). Values are "
            "encrypted at rest under a key of their own, never shown by any API or event, "
            "and masked in step logs. Talks to the API (FLOWLEDGER_API_URL, or the running "
            "`up`) with FLOWLEDGER_API_KEY or --token; `set` needs a write key of the project.",
            78,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser, *, named: bool) -> None:
        parser.add_argument("project", metavar="PROJECT", help="project id or slug")
        if named:
            parser.add_argument("name", metavar="NAME", help="the secret's name, e.g. DEPLOY_KEY")
            parser.add_argument(
                "--environment", "-e", metavar="ENV", help="bind it to one environment"
            )
        parser.add_argument("--api", metavar="URL", help="the API's base URL")
        parser.add_argument("--token", metavar="KEY", help="API key (default FLOWLEDGER_API_KEY)")
        parser.set_defaults(run=handler)

    common(
        actions.add_parser(
            "set",
            help="set a value (a new version); read from stdin, or prompted without echo",
            description="Set the secret NAME of PROJECT. The value comes from stdin (one "
            "trailing newline removed) or, on a terminal, from a prompt that does not echo.",
        ),
        named=True,
    )
    common(actions.add_parser("list", help="names, versions, who set them and when"), named=False)
    common(actions.add_parser("delete", help="delete a secret: its value is destroyed"), named=True)


def secrets_command(
    settings: Settings,
    args: argparse.Namespace,
    *,
    out: Out,
    err: Out,
    stdin: IO[str] | None = None,
) -> int:
    import httpx

    from adapters.cli.run_trigger import RunCommandError, answer_of, client
    from adapters.runner.launch import api_url_of

    token = args.token or settings.api_key
    if not token:
        err("flowledger: give an API key: --token or FLOWLEDGER_API_KEY")
        return EXIT_USAGE
    api_url = (args.api or api_url_of(settings)).rstrip("/")
    try:
        with client(api_url, token) as http:
            project = _project_id(http, args.project, answer_of)
            path = f"/api/v1/projects/{project}/secrets"
            if args.secrets_command == "list":
                for item in _every(http, path, answer_of):
                    where = item["environment"] or "(all environments)"
                    out(f"{item['name']}\t{where}\tv{item['version']}\t"
                        f"{item['updated_at']}\t{item['updated_by']}")  # fmt: skip
                return 0
            params = {"environment": args.environment} if args.environment else {}
            if args.secrets_command == "delete":
                done = answer_of(http.delete(f"{path}/{quote(args.name, safe='')}", params=params))
                err(f"deleted {args.name} (its value up to version {done['secret_version']} "
                    "is destroyed)")  # fmt: skip
                return 0
            value = _read_value(stdin or sys.stdin, args.name)
            if not value:
                err("flowledger: the value is empty (give it on stdin)")
                return EXIT_USAGE
            body: dict[str, Any] = {"value": value, **params}
            done = answer_of(http.put(f"{path}/{quote(args.name, safe='')}", json=body))
            changed = "set" if done.get("position") is not None else "unchanged (same value)"
            err(f"{args.name} {changed}: version {done['secret_version']}")
            return 0
    except RunCommandError as exc:
        err(f"flowledger: {exc}")
        return EXIT_API
    except (OSError, httpx.TransportError) as exc:
        err(f"flowledger: cannot reach the API at {api_url}: {exc}")
        return EXIT_API


def _read_value(stdin: IO[str], name: str) -> str:
    if stdin.isatty():
        return getpass.getpass(f"value of {name}: ")
    value = stdin.read()
    return value[:-1] if value.endswith("\n") else value


def _project_id(http: Any, ref: str, answer_of: Callable) -> str:
    try:
        return str(UUID(ref))
    except ValueError:
        pass
    for project in _every(http, "/api/v1/projects", answer_of):
        if project.get("slug") == ref:
            return str(project["id"])
    from adapters.cli.run_trigger import RunCommandError

    raise RunCommandError(f"no project with the slug {ref!r} (or give its id)")


def _every(http: Any, path: str, answer_of: Callable) -> list[dict[str, Any]]:
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
