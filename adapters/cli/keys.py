"""`flowledger keys create|list|revoke`: API keys from this host, beside a running `up` or not.

Each handler imports what it runs when it runs: `--help` and `version` stay fast.
"""

from __future__ import annotations

import argparse
from uuid import UUID

from adapters.cli.console import add_subcommand, err, guarded, out, settings_or_none
from adapters.platform.settings import Settings

WHERE = (
    "Uses FLOWLEDGER_DATABASE_URL; unset, the PostgreSQL of the `flowledger up` running on "
    "FLOWLEDGER_DATA_DIR, or else an embedded PostgreSQL started there for the command. The "
    "database must be migrated (`flowledger up` or `flowledger migrate` does it)."
)


def add_keys(commands: argparse._SubParsersAction, epilog: str) -> None:
    """Register `keys create|list|revoke` on the top-level parser's subcommands."""
    keys = commands.add_parser(
        "keys",
        help="manage API keys (`keys create|list|revoke`)",
        description="Manage API keys from this host, without an API key of your own.",
    )
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = add_subcommand(
        actions,
        "create",
        "issue an API key and print its token once",
        "Issue an API key with the given scopes, for one project or for all, and print its "
        "id and its token. The token is shown this once: only its hash is stored. " + WHERE,
        epilog,
    )
    create.add_argument("--name", required=True, help="what the key is for, e.g. 'ci-bot'")
    create.add_argument(
        "--scopes",
        required=True,
        type=_scopes,
        help="comma-separated, from read, write, admin, runner, audit",
    )
    create.add_argument(
        "--project", type=UUID, metavar="UUID", help="the one project it may act on (default: all)"
    )
    create.add_argument(
        "--expires-in-days", type=_positive_int, metavar="N", help="default: never expires"
    )
    create.set_defaults(run=_create)
    listing = add_subcommand(
        actions,
        "list",
        "print every API key: id, name, scopes, project, status",
        "Print every API key the read model holds, newest first: its id, the first characters "
        "of its token, its name, scopes, project (or 'all'), status and expiry. Tokens "
        "themselves are never stored. " + WHERE,
        epilog,
    )
    listing.add_argument(
        "--status", choices=("active", "revoked"), help="only keys with this status"
    )
    listing.add_argument("--json", action="store_true", help="print JSON lines instead")
    listing.set_defaults(run=_list)
    revoke = add_subcommand(
        actions,
        "revoke",
        "revoke an API key at once",
        "Revoke the key with this id: it stops authenticating at once, and its revocation is "
        "recorded with the reason given. Revoking a revoked key changes nothing. " + WHERE,
        epilog,
    )
    revoke.add_argument("key_id", type=UUID, metavar="KEY_ID", help="the key's id")
    revoke.add_argument("--reason", default="", help="why, kept with the revocation")
    revoke.set_defaults(run=_revoke)


def _scopes(raw: str) -> tuple[str, ...]:
    from commands.context import SCOPES

    scopes = tuple(s.strip() for s in raw.split(",") if s.strip())
    unknown = sorted(set(scopes) - SCOPES)
    if not scopes or unknown:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated scopes from {', '.join(sorted(SCOPES))}"
        )
    return scopes


def _positive_int(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError("expected a positive whole number")
    return int(raw)


def _create(args: argparse.Namespace) -> int:
    settings = settings_or_none()
    if settings is None:
        return 2
    return guarded(lambda: _issue(settings, args))


def _issue(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import timedelta

    from adapters.bootstrap import processes

    days = args.expires_in_days
    key_id, token = processes.issue_key(
        settings,
        name=args.name,
        scopes=args.scopes,
        project_id=args.project,
        expires_at=lambda at: at + timedelta(days=days) if days else None,
        # Server chatter goes to stderr: stdout carries only the key, for scripts.
        log=err,
    )
    out(f"key id: {key_id}")
    out(f"token:  {token}")
    err("The token is shown this once; only its hash is kept. Send it as the X-API-Key header.")


def _list(args: argparse.Namespace) -> int:
    import msgspec

    from adapters.bootstrap.keys import list_keys
    from domain.api_key import ApiKeyStatus

    settings = settings_or_none()
    if settings is None:
        return 2

    def show() -> None:
        status = ApiKeyStatus(args.status) if args.status else None
        rows = list_keys(settings, status=status, log=err)
        if args.json:
            for row in rows:
                out(msgspec.json.encode(row).decode())
            return
        if not rows:
            err("no API key matches")
            return
        out(f"{'ID':36}  {'PREFIX':10}  {'STATUS':7}  {'PROJECT':36}  {'SCOPES':22}  NAME")
        for row in rows:
            project = str(row.project_id) if row.project_id else "all"
            scopes = ",".join(row.scopes)
            status_ = str(row.status)
            line = f"{row.id!s:36}  {row.prefix:10}  {status_:7}  {project:36}  {scopes:22}"
            out(f"{line}  {row.name}")

    return guarded(show)


def _revoke(args: argparse.Namespace) -> int:
    from adapters.bootstrap.keys import revoke

    settings = settings_or_none()
    if settings is None:
        return 2

    def act() -> None:
        revoke(settings, args.key_id, reason=args.reason, log=err)
        out(f"revoked {args.key_id}")

    return guarded(act)
