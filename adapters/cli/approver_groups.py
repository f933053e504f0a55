"""`flowledger approver-groups set PROJECT NAME --member key:<id> ...`: through the API."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from adapters.cli.console import add_subcommand
from adapters.cli.project_api import Out, with_project_api
from adapters.platform.settings import Settings


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
    def act(http: Any, project: str) -> int:
        from adapters.cli.run_trigger import answer_of

        path = f"/api/v1/projects/{project}/approver-groups/{quote(args.name, safe='')}"
        done = answer_of(http.put(path, json={"members": args.member}))
        changed = "set" if done.get("position") is not None else "unchanged (same members)"
        out(f"{args.name} {changed}: {len(args.member)} member(s), version {done['version']}")
        return 0

    return with_project_api(settings, args, act, err=err)
