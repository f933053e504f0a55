"""Operators' subcommands: `keys` (keys.py), `projections status|rebuild|quarantine`, `tail`.

Each handler imports what it runs when it runs: `--help` and `version` stay fast.
"""

from __future__ import annotations

import argparse
import sys
from uuid import UUID

from adapters.cli.console import add_subcommand, err, guarded, out, settings_or_none, telemetry
from adapters.cli.keys import add_keys
from adapters.cli.quarantine import add_quarantine


def add_commands(commands: argparse._SubParsersAction, epilog: str) -> None:
    """Register `keys`, `projections` and `tail` on the top-level parser's subcommands."""
    add_keys(commands, epilog)
    _add_projections(commands, epilog)
    _add_tail(commands, epilog)


def _add_projections(commands: argparse._SubParsersAction, epilog: str) -> None:
    projections = commands.add_parser(
        "projections",
        help="inspect and rebuild read models (`projections status|rebuild|quarantine`)",
        description="Inspect and rebuild the projections (read models) the projector serves.",
    )
    actions = projections.add_subparsers(
        dest="projections_command", required=True, metavar="ACTION"
    )
    status = add_subcommand(
        actions,
        "status",
        "print each projection's position, lag and state",
        "Print each projection's version, position, the head of the event feed, its lag in "
        "events and in seconds, its state (running, failed, rebuilding, stopped), the "
        "process serving it, how many events it quarantined (and from which position), "
        "and for a failed one the event it stopped at and why.",
        epilog,
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(run=_projections_status)
    rebuild = add_subcommand(
        actions,
        "rebuild",
        "rebuild one projection from event 0 and swap it in",
        "Replay every event into fresh tables (schema rm_NAME__next) while the live ones keep "
        "serving queries, then swap the two in one transaction and drop the old tables. Run "
        "it beside a running projector: its owner carries on from the rebuilt position. "
        "Uses FLOWLEDGER_DATABASE_URL; unset, the PostgreSQL of the `flowledger up` running "
        "on FLOWLEDGER_DATA_DIR, or else an embedded one started there for the command.",
        epilog,
    )
    rebuild.add_argument("name", metavar="NAME", help="the projection, e.g. runs")
    rebuild.set_defaults(run=_projections_rebuild)
    add_quarantine(actions, epilog)


def _add_tail(commands: argparse._SubParsersAction, epilog: str) -> None:
    tail = add_subcommand(
        commands,
        "tail",
        "print events live in the terminal, as the relay publishes them",
        "Print each event as the relay publishes it on JetStream, one line each (recorded "
        "time, position, stream type and id, event type, a few fields of its data), until "
        "Ctrl-C. Filter by run, pipeline or project, and by event type; --after starts from "
        "a past position instead of now. Uses FLOWLEDGER_NATS_URL, or else the "
        "NATS of the `flowledger up` running on FLOWLEDGER_DATA_DIR.",
        epilog,
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
    from adapters.cli.progress import progress
    from projections.rebuild import RebuildFailed, RebuildInProgress

    settings = settings_or_none()
    if settings is None:
        return 2
    telemetry(settings, "rebuild")

    def rebuild() -> None:
        with progress(f"rebuilding {args.name}", unit="positions") as meter:
            report = processes.rebuild_projection(settings, args.name, out=err, progress=meter)
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
