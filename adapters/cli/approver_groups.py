"""`flowledger approver-groups set PROJECT NAME --member key:<id> ...`: through the API."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from urllib.parse import quote

from adapters.cli.console import add_subcommand
from adapters.platform.settings import Settings

EXIT_USAGE, EXIT_API = 2, 5
Out = Callable[[str], None]


def add_approver_group_commands(commands: argparse._SubParsersAction, handler: Callable) -> None:
    groups = add_subcommand(
        commands,
        "approver-groups",
        "a project's approver groups: set a group's members",
        "An approval step or an environment lists a group among its approvers as "
        "`group:<name>`; whoever the group holds when they decide may decide, and the "
        "decision records the group. Talks to the API (FLOWLEDGER_API_URL, or the running "
        "`up`) with FLOWLEDGER_API_KEY or --token; needs an admin key of the project.",
    )
    actions = groups.add_subparsers(dest="groups_command", required=True, metavar="ACTION")
    put = add_subcommand(
        actions,
        "set",
        "create the group or replace its members",
        "Set the members of the approver group NAME of PROJECT (none: empty it).",
    )
    put.add_argument("project", metavar="PROJECT", help="project id or slug")
    put.add_argument("name", metavar="NAME", help="the group's name, e.g. release-managers")
    put.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="PRINCIPAL",
        help="key:<api key id> or jwt:<subject> (repeat)",
    )
    put.add_argument("--api", metavar="URL", help="the API's base URL")
    put.add_argument("--token", metavar="KEY", help="API key (default FLOWLEDGER_API_KEY)")
    put.set_defaults(run=handler)


def approver_groups_command(
    settings: Settings, args: argparse.Namespace, *, out: Out, err: Out
) -> int:
    import httpx

    from adapters.cli.run_trigger import RunCommandError, answer_of, client
    from adapters.cli.secrets import _project_id
    from adapters.runner.launch import api_url_of

    token = args.token or settings.api_key
    if not token:
        err("flowledger: give an API key: --token or FLOWLEDGER_API_KEY")
        return EXIT_USAGE
    api_url = (args.api or api_url_of(settings)).rstrip("/")
    try:
        with client(api_url, token) as http:
            project = _project_id(http, args.project, answer_of)
            path = f"/api/v1/projects/{project}/approver-groups/{quote(args.name, safe='')}"
            done = answer_of(http.put(path, json={"members": args.member}))
    except RunCommandError as exc:
        err(f"flowledger: {exc}")
        return EXIT_API
    except (OSError, httpx.TransportError) as exc:
        err(f"flowledger: cannot reach the API at {api_url}: {exc}")
        return EXIT_API
    changed = "set" if done.get("position") is not None else "unchanged (same members)"
    out(f"{args.name} {changed}: {len(args.member)} member(s), version {done['version']}")
    return 0
