"""The `flowledger` command line: parses arguments and hands each subcommand to the
composition root (adapters.bootstrap), which builds what it runs."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from importlib.metadata import version
from uuid import UUID

from adapters.cli.audit import add_commands as add_audit_commands
from adapters.cli.console import err, guarded, out, settings_or_none
from adapters.cli.export import add_export_command
from adapters.cli.runner import add_runner_commands
from adapters.platform.settings import Settings

Handler = Callable[[argparse.Namespace], int]

SETTINGS_HELP = """\
configuration: environment variables, also read from .env.default < .env < .env.local
  FLOWLEDGER_DATABASE_URL  PostgreSQL URL; unset: start an embedded PostgreSQL
  FLOWLEDGER_NATS_URL      NATS URL(s), comma-separated; unset: start an embedded NATS
  FLOWLEDGER_DATA_DIR      where embedded servers keep their data (default ./.flowledger)
  FLOWLEDGER_HOST          address the HTTP API listens on (default 127.0.0.1)
  FLOWLEDGER_PORT          port the HTTP API listens on (default 8000)
  FLOWLEDGER_LOG_LEVEL     DEBUG, INFO, WARNING or ERROR (default INFO)
  security (JWT secret, cipher key, CORS, rate limits, body size): see the README
  FLOWLEDGER_RELAY_*       the relay's JetStream stream and limits: see docs/streaming.md
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subparser per subcommand (compose's test reads it too)."""
    parser = argparse.ArgumentParser(
        prog="flowledger",
        description="flowledger: an event-sourced control plane for CI and workflow runs.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, summary: str, description: str, run: Handler, epilog: str | None = SETTINGS_HELP
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=textwrap.fill(description, 78),
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(run=run)
        return sub

    add(
        "up",
        "run everything in one process (embedded PostgreSQL and NATS unless URLs are set)",
        "Start flowledger in one process. Without FLOWLEDGER_DATABASE_URL / FLOWLEDGER_NATS_URL "
        "it starts an embedded PostgreSQL and a NATS server with JetStream under "
        "FLOWLEDGER_DATA_DIR (data survives restarts); with them set it uses those servers. "
        "It applies pending migrations, prints where it listens and where the data lives, and "
        "serves the HTTP API (/health, /ready, OpenAPI at /docs) until Ctrl-C or SIGTERM, "
        "then stops everything it started.",
        _up,
    )
    add(
        "api",
        "serve the HTTP API only (one role, as compose and production run it)",
        "Serve the HTTP API alone on FLOWLEDGER_HOST:FLOWLEDGER_PORT, against "
        "FLOWLEDGER_DATABASE_URL and FLOWLEDGER_NATS_URL (embedded servers when unset). It does "
        "not apply migrations: run `flowledger migrate` first, or /ready answers 503.",
        _api,
    )
    add(
        "projector",
        "keep the read models up to date (one role, as compose and production run it)",
        "Run the projector alone against FLOWLEDGER_DATABASE_URL (the embedded PostgreSQL when "
        "unset): it applies new events to every projection until Ctrl-C or SIGTERM. Any number "
        "may run; each projection is served by one of them at a time, and another takes over "
        "within seconds if it dies. It does not apply migrations: run `flowledger migrate` first.",
        _projector,
    )
    add(
        "intake",
        "turn recorded webhook deliveries into runs (one role, as compose and production run it)",
        "Run the webhook intake alone against FLOWLEDGER_DATABASE_URL (the embedded PostgreSQL "
        "when unset): it reads each recorded webhook delivery in order, starts the pipelines "
        "whose triggers match or updates the external run it reports on, and records the "
        "outcome on the delivery. Any number may run; one of them serves at a time.",
        _intake,
    )
    add(
        "dispatcher",
        "turn ready steps into jobs for runners, and reap silent runners (one role)",
        "Run the dispatcher alone against FLOWLEDGER_DATABASE_URL and FLOWLEDGER_NATS_URL "
        "(embedded servers when unset): it records each ready step of a run as a job and "
        "publishes it to the JetStream work queue FLOWLEDGER_DISPATCH_STREAM, publishes again "
        "at start every job no runner has started, and marks a runner lost once it has not "
        "heartbeated for FLOWLEDGER_RUNNER_LOST_AFTER_S, failing its running steps `runner_lost` "
        "(retried when the step allows). Any number may run; one of them dispatches at a time.",
        _dispatcher,
    )
    add(
        "relay",
        "publish every event to NATS JetStream (one role, as compose and production run it)",
        "Run the relay alone: it publishes every committed event, in position order, to the "
        "JetStream stream FLOWLEDGER_RELAY_STREAM on FLOWLEDGER_NATS_URL, creating or updating "
        "the stream at start, and keeps its checkpoint in FLOWLEDGER_DATABASE_URL. Any number "
        "may run; one of them publishes at a time, and another takes over if it dies. See "
        "docs/streaming.md for the subjects and the message format.",
        _relay,
    )
    add(
        "gateway",
        "serve the WebSocket gateway (/ws/runs, /ws/pipeline, /ws/project, /ws/system)",
        "Serve the WebSocket endpoints on FLOWLEDGER_HOST:FLOWLEDGER_PORT: clients authenticate "
        "with an API key or JWT (?token= or the subprotocol flowledger.token.<token>), resume "
        "with ?after=<position>, and receive each event's envelope as the relay publishes it. "
        "Stateless: run any number. See gateway/README.md for the protocol and close codes.",
        _gateway,
    )
    add(
        "migrate",
        "apply pending database migrations and exit",
        "Apply every pending SQL migration to FLOWLEDGER_DATABASE_URL (or to the embedded "
        "PostgreSQL when unset), in order, each in its own transaction. Safe to run again and "
        "from several processes at once. Fails if an already-applied migration was edited.",
        _migrate,
    )
    _add_keys(commands)
    _add_projections(commands)
    _add_tail(commands)
    add_export_command(commands, SETTINGS_HELP, _export)
    add_audit_commands(commands, SETTINGS_HELP)
    add_runner_commands(commands, runner=_runner, run=_run)
    add(
        "version",
        "print the flowledger version",
        "Print the installed flowledger version, from the package metadata, and exit.",
        _version,
        epilog=None,
    )
    return parser


def _add_keys(commands: argparse._SubParsersAction) -> None:
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
        epilog=SETTINGS_HELP,
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


def _add_projections(commands: argparse._SubParsersAction) -> None:
    projections = commands.add_parser(
        "projections",
        help="inspect and rebuild read models (`projections status`, `projections rebuild`)",
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
            "process serving it, and for a failed one the event it stopped at and why.",
            78,
        ),
        epilog=SETTINGS_HELP,
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
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rebuild.add_argument("name", metavar="NAME", help="the projection, e.g. runs")
    rebuild.set_defaults(run=_projections_rebuild)


def _add_tail(commands: argparse._SubParsersAction) -> None:
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
        epilog=SETTINGS_HELP,
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def _version(_args: argparse.Namespace) -> int:
    out(version("flowledger"))
    return 0


def _up(_args: argparse.Namespace) -> int:
    return _serve("up")


def _api(_args: argparse.Namespace) -> int:
    return _serve("api")


def _projector(_args: argparse.Namespace) -> int:
    return _serve("projector")


def _relay(_args: argparse.Namespace) -> int:
    return _serve("relay")


def _gateway(_args: argparse.Namespace) -> int:
    return _serve("gateway")


def _runner(args: argparse.Namespace) -> int:
    from adapters.bootstrap import processes
    from adapters.runner.launch import LaunchError, runner_config

    settings = settings_or_none()
    if settings is None:
        return 2
    _telemetry(settings, "runner")
    try:
        config = runner_config(
            settings,
            labels=args.labels,
            concurrency=args.concurrency,
            name=args.name,
            api_url=args.api,
            token=args.token,
        )
    except LaunchError as exc:
        err(f"flowledger: {exc}")
        return 2
    try:
        return guarded(lambda: processes.runner(config, out=out))
    except LaunchError as exc:
        err(f"flowledger: {exc}")
        return 1


def _run(args: argparse.Namespace) -> int:
    from adapters.cli.runner import run_pipeline

    settings = settings_or_none()
    if settings is None:
        return 2
    return run_pipeline(settings, args, out=out, err=err)


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


def _intake(_args: argparse.Namespace) -> int:
    from adapters.bootstrap import processes

    settings = settings_or_none()
    if settings is None:
        return 2
    _telemetry(settings, "intake")
    return guarded(lambda: processes.intake(settings, out=out))


def _dispatcher(_args: argparse.Namespace) -> int:
    from adapters.bootstrap import processes

    settings = settings_or_none()
    if settings is None:
        return 2
    _telemetry(settings, "dispatcher")
    return guarded(lambda: processes.dispatcher(settings, out=out))


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
    _telemetry(settings, "rebuild")

    def rebuild() -> None:
        report = processes.rebuild_projection(settings, args.name, out=err)
        out(
            f"rebuilt {report.name}: {report.events} events ({report.applied} applied) in "
            f"{report.seconds:.1f}s, {report.events_per_second:,.0f} events/s; "
            f"now at position {report.position}"
        )

    try:
        return guarded(rebuild)
    except (LookupError, RebuildInProgress, RebuildFailed) as exc:
        err(f"flowledger: {exc}")
        return 1


def _export(args: argparse.Namespace) -> int:
    from adapters.audit.export import export_command

    settings = settings_or_none()
    if settings is None:
        return 2
    return guarded(lambda: export_command(settings, args, err=err))


def _migrate(_args: argparse.Namespace) -> int:
    from adapters.bootstrap import processes  # deferred: `version` and `--help` stay fast

    settings = settings_or_none()
    if settings is None:
        return 2
    return guarded(lambda: processes.migrate_only(settings, out=out))


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


def _telemetry(settings: Settings, service: str) -> None:
    from adapters.telemetry.setup import configure_telemetry  # deferred: loads OpenTelemetry

    configure_telemetry(settings, service)


def _serve(command: str) -> int:
    from adapters.bootstrap import processes

    settings = settings_or_none()
    if settings is None:
        return 2
    _telemetry(settings, command)
    run = {
        "up": processes.up,
        "api": processes.api,
        "projector": processes.projector,
        "relay": processes.relay,
        "gateway": processes.gateway,
    }[command]
    return guarded(lambda: run(settings, out=out))


if __name__ == "__main__":
    sys.exit(main())
