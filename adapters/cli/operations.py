"""Operators' subcommands: `keys create`, `projections status|rebuild` and `tail`.

Each handler imports what it runs when it runs: `--help` and `version` stay fast.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from uuid import UUID

from adapters.cli.console import err, guarded, out, settings_or_none, telemetry
from adapters.cli.quarantine import add_quarantine
from adapters.platform.settings import Settings


def add_commands(commands: argparse._SubParsersAction, epilog: str) -> None:
    """Register `keys`, `projections` and `tail` on the top-level parser's subcommands."""
    _add_keys(commands, epilog)
    _add_projections(commands, epilog)
    _add_tail(commands, epilog)


def _add_keys(commands: argparse._SubParsersAction, epilog: str) -> None:
    keys = commands.add_parser(
        "keys",
        help="manage API keys (`keys create`)",
        description="Manage API keys outside the HTTP API.",
    )
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="issue an API key and print its token once",
        description=textwrap.fill(
            "Issue an API key with the given scopes, for one project or for all, and print its "
            "id and its token. The token is shown this once: only its hash is stored. Uses "
            "FLOWLEDGER_DATABASE_URL, or the embedded PostgreSQL under FLOWLEDGER_DATA_DIR when "
            "unset (stop `flowledger up` first, or point FLOWLEDGER_DATABASE_URL at it). The "
            "database must be migrated (`flowledger migrate`).",
            78,
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    create.set_defaults(run=_keys_create)


def _add_projections(commands: argparse._SubParsersAction, epilog: str) -> None:
    projections = commands.add_parser(
        "projections",
        help="inspect and rebuild read models (`projections status|rebuild|quarantine`)",
        description="Inspect and rebuild the projections (read models) the projector serves.",
    )
    actions = projections.add_subparsers(
        dest="projections_command", required=True, metavar="ACTION"
    )
    status = actions.add_parser(
        "status",
        help="print each projection's position, lag and state",
        description=textwrap.fill(
            "Print each projection's version, position, the head of the event feed, its lag in "
            "events and in seconds, its state (running, failed, rebuilding, stopped), the "
            "process serving it, how many events it quarantined (and from which position), "
            "and for a failed one the event it stopped at and why.",
            78,
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(run=_projections_status)
    rebuild = actions.add_parser(
        "rebuild",
        help="rebuild one projection from event 0 and swap it in",
        description=textwrap.fill(
            "Replay every event into fresh tables (schema rm_NAME__next) while the live ones keep "
            "serving queries, then swap the two in one transaction and drop the old tables. Run "
            "it beside a running projector: its owner carries on from the rebuilt position. "
            "Beside `flowledger up`, point FLOWLEDGER_DATABASE_URL at its PostgreSQL (its "
            "embedded one is locked while it runs).",
            78,
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rebuild.add_argument("name", metavar="NAME", help="the projection, e.g. runs")
    rebuild.set_defaults(run=_projections_rebuild)
    add_quarantine(actions, epilog)


def _add_tail(commands: argparse._SubParsersAction, epilog: str) -> None:
    tail = commands.add_parser(
        "tail",
        help="print events live in the terminal, as the relay publishes them",
        description=textwrap.fill(
            "Print each event as the relay publishes it on JetStream, one line each (recorded "
            "time, position, stream type and id, event type, a few fields of its data), until "
            "Ctrl-C. Filter by run, pipeline or project, and by event type; --after starts from "
            "a past position instead of now. Uses FLOWLEDGER_NATS_URL, or else the embedded "
            "NATS of the `flowledger up` running on FLOWLEDGER_DATA_DIR.",
            78,
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scope = tail.add_mutually_exclusive_group()
    # `run` is taken: every subcommand's handler lives there.
    scope.add_argument("--run", dest="run_id", type=UUID, metavar="ID", help="one run's events")
    scope.add_argument(
        "--pipeline", type=UUID, metavar="ID", help="this pipeline's events and its runs'"
    )
    scope.add_argument("--project", type=UUID, metavar="ID", help="everything in this project")
    tail.add_argument(
        "--type",
        dest="event_type",
        type=_event_type,
        metavar="EVENT_TYPE",
        help="only events of this type, e.g. RunStarted",
    )
    tail.add_argument(
        "--after",
        type=_non_negative_int,
        metavar="POSITION",
        help="start after this global position (default: only events from now on)",
    )
    tail.add_argument("--json", action="store_true", help="print each envelope as a JSON line")
    tail.set_defaults(run=_tail)


def _scopes(raw: str) -> tuple[str, ...]:
    from commands.context import SCOPES

    scopes = tuple(s.strip() for s in raw.split(",") if s.strip())
    unknown = sorted(set(scopes) - SCOPES)
    if not scopes or unknown:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated scopes from {', '.join(sorted(SCOPES))}"
        )
    return scopes


def _event_type(raw: str) -> str:
    from domain.registry import UnknownEventType, default_registry

    try:
        return default_registry().event_type(raw).name
    except UnknownEventType:
        raise argparse.ArgumentTypeError(f"no event type is named {raw!r}") from None


def _non_negative_int(raw: str) -> int:
    if not raw.isdigit():
        raise argparse.ArgumentTypeError("expected a whole number, 0 or more")
    return int(raw)


def _positive_int(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError("expected a positive whole number")
    return int(raw)


def _keys_create(args: argparse.Namespace) -> int:
    settings = settings_or_none()
    if settings is None:
        return 2
    return guarded(lambda: _issue_key(settings, args))


def _issue_key(settings: Settings, args: argparse.Namespace) -> None:
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


def _projections_status(args: argparse.Namespace) -> int:
    import msgspec

    from adapters.bootstrap import processes
    from projections.status import status_table

    settings = settings_or_none()
    if settings is None:
        return 2

    def show() -> None:
        statuses = processes.projections_status(settings, out=err)
        if args.json:
            out(msgspec.json.encode(statuses).decode())
        elif statuses:
            out(status_table(statuses))
        else:
            err("no projection has been served yet (is `flowledger projector` running?)")

    return guarded(show)


def _projections_rebuild(args: argparse.Namespace) -> int:
    from adapters.bootstrap import processes
    from projections.rebuild import RebuildFailed, RebuildInProgress

    settings = settings_or_none()
    if settings is None:
        return 2
    telemetry(settings, "rebuild")

    def rebuild() -> None:
        report = processes.rebuild_projection(settings, args.name, out=err)
        out(
            f"rebuilt {report.name}: {report.events} events ({report.applied} applied) in "
            f"{report.seconds:.1f}s, {report.events_per_second:,.0f} events/s; "
            f"now at position {report.position}"
        )
        if report.quarantined:
            err(
                f"{report.quarantined} events quarantined (a handler failed on them): "
                f"`flowledger projections quarantine list {report.name}`"
            )

    try:
        return guarded(rebuild)
    except (LookupError, RebuildInProgress, RebuildFailed) as exc:
        err(f"flowledger: {exc}")
        return 1


def _tail(args: argparse.Namespace) -> int:
    from adapters.streaming import tail

    settings = settings_or_none()
    if settings is None:
        return 2
    try:
        what = tail.for_settings(
            settings,
            run=args.run_id,
            pipeline=args.pipeline,
            project=args.project,
            event_type=args.event_type,
            after=args.after,
            as_json=args.json,
        )
        tail.run(what, sys.stdout, err)
    except tail.TailError as exc:
        err(f"flowledger: {exc}")
        return 1
    return 0
