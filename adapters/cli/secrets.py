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

from adapters.cli.project_api import EXIT_USAGE, Out, every, with_project_api
from adapters.platform.settings import Settings


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
            scope = parser.add_mutually_exclusive_group()
            scope.add_argument(
                "--environment", "-e", metavar="ENV", help="bind it to one environment"
            )
            scope.add_argument(
                "--pipeline", "-p", metavar="PIPELINE", help="bind it to one pipeline (its id)"
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
    rotate = actions.add_parser(
        "rotate-key",
        help="re-wrap every secret's data key under a new FLOWLEDGER_CIPHER_KEY",
        description=textwrap.fill(
            "After changing FLOWLEDGER_CIPHER_KEY (the instance key), re-wrap every key the old "
            "instance key (read from stdin, or prompted without echo) wraps: secret values' "
            "data keys, data subjects' keys, webhook-source and subscription secrets (those "
            "old events hold sealed are kept apart first), in one transaction. Values and "
            "events are untouched. Talks to "
            "the database (FLOWLEDGER_DATABASE_URL, or the embedded one). See the README's "
            "'Secrets' for what else the instance key protects.",
            78,
        ),
    )
    rotate.set_defaults(run=handler)
    adopt = actions.add_parser(
        "adopt-env",
        help="move a pipeline's plain env values into project secrets (its next version)",
        description=textwrap.fill(
            "Set each chosen env value of PIPELINE's current definition as the project secret "
            "of the same name, then define the pipeline's next version with those keys gone "
            "from `env` and listed in the steps' `secrets`. Default keys: those whose values "
            "look like credentials. Then list the events that still hold the plain values: "
            "events are kept forever and cannot be changed, so rotate those credentials where "
            "they are issued. Talks to the database (FLOWLEDGER_DATABASE_URL, or the embedded "
            "one), as the console's operator.",
            78,
        ),
    )
    adopt.add_argument("pipeline", metavar="PIPELINE", help="the pipeline's id")
    adopt.add_argument(
        "--key", action="append", default=[], metavar="KEY", help="adopt this env key (repeat)"
    )
    adopt.set_defaults(run=handler)
    keep = actions.add_parser(
        "keep-sealed",
        help="keep the signing secrets old events hold sealed apart, for later key rotations",
        description=textwrap.fill(
            "Webhook-source and subscription secrets recorded by earlier versions sit sealed "
            "under the instance key inside their events, which cannot change. This opens each "
            "with FLOWLEDGER_CIPHER_KEY and keeps it in the secret store (found by the sealed "
            "text), so `rotate-key` re-wraps it from then on. `rotate-key` does the same with "
            "the old key; idempotent. Talks to the database (FLOWLEDGER_DATABASE_URL, or the "
            "embedded one).",
            78,
        ),
    )
    keep.set_defaults(run=handler)


def secrets_command(
    settings: Settings,
    args: argparse.Namespace,
    *,
    out: Out,
    err: Out,
    stdin: IO[str] | None = None,
) -> int:
    if args.secrets_command == "rotate-key":
        return _rotate_key(settings, stdin or sys.stdin, out=out, err=err)
    if args.secrets_command == "adopt-env":
        return _adopt_env(settings, args, out=out, err=err)
    if args.secrets_command == "keep-sealed":
        return _keep_sealed(settings, out=out, err=err)
    return with_project_api(
        settings,
        args,
        lambda http, project: _act(http, project, args, stdin, err=err, out=out),
        err=err,
    )


def _act(
    http: Any, project: str, args: argparse.Namespace, stdin: IO[str] | None, *, out: Out, err: Out
) -> int:
    from adapters.cli.run_trigger import answer_of

    path = f"/api/v1/projects/{project}/secrets"
    if args.secrets_command == "list":
        for item in every(http, path):
            where = _scope_of(item)
            out(f"{item['name']}\t{where}\tv{item['version']}\t"
                f"{item['updated_at']}\t{item['updated_by']}")  # fmt: skip
        return 0
    params = _scope_params(args)
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


def _rotate_key(settings: Settings, stdin: IO[str], *, out: Out, err: Out) -> int:
    from adapters.bootstrap.secret_keys import OldKeyInvalid, decode_key, rotate_secret_keys
    from adapters.cli.console import guarded

    old = getpass.getpass("old instance key: ") if stdin.isatty() else stdin.read()
    try:
        decode_key(old)
    except OldKeyInvalid as exc:
        err(f"flowledger: {exc}")
        return EXIT_USAGE

    def rotate() -> None:
        done = rotate_secret_keys(settings, old, log=err)
        out(f"re-wrapped {done.rewrapped}, already under the new key {done.already}, "
            f"opened by neither key {done.unreadable}; old events' signing secrets newly "
            f"kept {done.restored}")  # fmt: skip

    try:
        return guarded(rotate)
    except OldKeyInvalid as exc:
        err(f"flowledger: {exc}")
        return EXIT_USAGE


def _keep_sealed(settings: Settings, *, out: Out, err: Out) -> int:
    from adapters.bootstrap.secret_keys import keep_sealed_secrets
    from adapters.cli.console import guarded

    def keep() -> None:
        done = keep_sealed_secrets(settings, log=err)
        out(f"kept {done.restored}, kept already {done.already}, "
            f"not opened by FLOWLEDGER_CIPHER_KEY {done.unreadable}")  # fmt: skip

    return guarded(keep)


def _adopt_env(settings: Settings, args: argparse.Namespace, *, out: Out, err: Out) -> int:
    from adapters.bootstrap.adopt_env import adopt_env_command
    from adapters.cli.console import guarded

    try:
        pipeline_id = UUID(args.pipeline)
    except ValueError:
        err(f"flowledger: {args.pipeline!r} is not a pipeline id")
        return EXIT_USAGE

    def run() -> None:
        done = adopt_env_command(settings, pipeline_id, args.key, log=err)
        if not done.keys:
            out("nothing to adopt: no env value looks like a credential (name one with --key)")
        else:
            out(f"adopted {', '.join(done.keys)} as project secrets; the pipeline's version "
                f"{done.pipeline_version} names them in `secrets`")  # fmt: skip
        for plain in done.still_plain:
            out(f"still plain, kept forever: event {plain.position} (pipeline version "
                f"{plain.pipeline_version}), step {plain.step}, env {plain.key}")  # fmt: skip
        if done.still_plain:
            out("those events cannot be changed: rotate the credentials where they are issued")

    return guarded(run)


def _scope_of(item: dict[str, Any]) -> str:
    if item.get("environment"):
        return f"environment {item['environment']}"
    if item.get("pipeline_id"):
        return f"pipeline {item['pipeline_id']}"
    return "(project-wide)"


def _scope_params(args: argparse.Namespace) -> dict[str, str]:
    from adapters.cli.run_trigger import RunCommandError

    if args.environment:
        return {"environment": args.environment}
    if args.pipeline:
        try:
            return {"pipeline_id": str(UUID(args.pipeline))}
        except ValueError:
            raise RunCommandError(f"{args.pipeline!r} is not a pipeline id") from None
    return {}


def _read_value(stdin: IO[str], name: str) -> str:
    if stdin.isatty():
        return getpass.getpass(f"value of {name}: ")
    value = stdin.read()
    return value[:-1] if value.endswith("\n") else value
