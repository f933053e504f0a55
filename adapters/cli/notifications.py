"""`flowledger notifications list|add|remove|disable|enable`: a project's notification rules,
through the API. Credentials are never arguments: a channel names project secrets
(`flowledger secrets set`), which the deliverer reveals when it sends."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from adapters.cli.console import add_subcommand
from adapters.cli.project_api import EXIT_USAGE, Out, every, with_project_api
from adapters.platform.settings import Settings

TRIGGERS = ("run_failed", "run_recovered", "approval_waiting", "runner_lost", "system_notice")


def add_notifications_commands(commands: argparse._SubParsersAction, handler: Callable) -> None:
    parser = add_subcommand(
        commands,
        "notifications",
        "a project's notification rules: list, add, remove, disable, enable",
        "Tell people when a run fails or recovers, an approval waits, a runner is lost or "
        "an operator sends a system notice: to a Slack incoming webhook or by e-mail. "
        "Talks to the API (FLOWLEDGER_API_URL, or the running `up`) with "
        "FLOWLEDGER_API_KEY or --token; needs an admin key of the project.",
    )
    actions = parser.add_subparsers(dest="notifications_command", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser, *, rule: bool) -> argparse.ArgumentParser:
        sub.add_argument("project", metavar="PROJECT", help="project id or slug")
        if rule:
            sub.add_argument("rule", metavar="RULE", help="the rule's id")
        sub.add_argument("--api", metavar="URL", help="the API's base URL")
        sub.add_argument("--token", metavar="KEY", help="API key (default FLOWLEDGER_API_KEY)")
        sub.set_defaults(run=handler)
        return sub

    common(actions.add_parser("list", help="the rules, their channels and status"), rule=False)
    add = common(actions.add_parser("add", help="add a rule"), rule=False)
    add.add_argument("--name", required=True, help="what the rule is for")
    add.add_argument(
        "--on", action="append", required=True, choices=TRIGGERS, help="a trigger (repeat)"
    )
    add.add_argument("--pipeline", metavar="ID", help="only this pipeline's runs")
    add.add_argument("--branch", help="only runs of this branch")
    add.add_argument("--slack-url-secret", metavar="NAME", help="secret holding the webhook URL")
    add.add_argument("--slack-url", metavar="URL", help="the webhook URL itself (kept in events)")
    add.add_argument("--smtp-host", metavar="HOST", help="send e-mail through this server")
    add.add_argument("--smtp-port", type=int, default=587)
    add.add_argument("--sender", metavar="ADDRESS", help="the From address")
    add.add_argument("--to", action="append", default=[], metavar="ADDRESS", help="(repeat)")
    add.add_argument("--to-secret", metavar="NAME", help="secret holding the recipients")
    add.add_argument("--no-starttls", action="store_true", help="send without STARTTLS")
    add.add_argument("--smtp-user", metavar="USER")
    add.add_argument("--smtp-password-secret", metavar="NAME", help="secret holding the password")
    common(actions.add_parser("remove", help="delete a rule"), rule=True)
    disable = common(actions.add_parser("disable", help="stop a rule for now"), rule=True)
    disable.add_argument("--reason", default="")
    common(actions.add_parser("enable", help="start a disabled rule again"), rule=True)


def _channel(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.smtp_host:
        channel = {
            "type": "email",
            "host": args.smtp_host,
            "port": args.smtp_port,
            "sender": args.sender or "",
            "to": args.to,
            "starttls": not args.no_starttls,
        }
        if args.to_secret:
            channel["to_secret"] = args.to_secret
        if args.smtp_user or args.smtp_password_secret:
            channel |= {"username": args.smtp_user, "password_secret": args.smtp_password_secret}
        return channel
    if args.slack_url_secret:
        return {"type": "slack", "url_secret": args.slack_url_secret}
    if args.slack_url:
        return {"type": "slack", "url": args.slack_url}
    return None


def notifications_command(
    settings: Settings, args: argparse.Namespace, *, out: Out, err: Out
) -> int:
    def act(http: Any, project: str) -> int:
        from adapters.cli.run_trigger import answer_of

        path = f"/api/v1/projects/{project}/notification-rules"
        return _act(http, path, args, answer_of, out=out, err=err)

    return with_project_api(settings, args, act, err=err)


def _act(
    http: Any, path: str, args: argparse.Namespace, answer_of: Callable, *, out: Out, err: Out
) -> int:

    action = args.notifications_command
    if action == "list":
        for rule in every(http, path):
            channel = rule["channel"]
            where = channel.get("host") or channel.get("url_secret") or channel.get("url")
            triggers = ",".join(rule["triggers"])
            out(f"{rule['id']}\t{rule['name']}\t{triggers}\t{channel['type']}:{where}\t"
                f"{rule['status']}\t{rule['updated_by']}")  # fmt: skip
        return 0
    if action == "add":
        channel = _channel(args)
        if channel is None:
            err("flowledger: give a channel: --slack-url-secret, --slack-url or --smtp-host")
            return EXIT_USAGE
        body: dict[str, Any] = {"name": args.name, "triggers": args.on, "channel": channel}
        if args.pipeline:
            body["pipeline_id"] = args.pipeline
        if args.branch:
            body["branch"] = args.branch
        out(answer_of(http.post(path, json=body))["id"])
        return 0
    rule_path = f"{path}/{args.rule}"
    if action == "remove":
        answer_of(http.delete(rule_path))
    elif action == "disable":
        answer_of(http.post(f"{rule_path}/disable", json={"reason": args.reason}))
    else:
        answer_of(http.post(f"{rule_path}/enable"))
    err(f"{action}d {args.rule}")
    return 0
