"""The `flowledger` command line: parses arguments and hands each subcommand to the
composition root (adapters.bootstrap), which builds what it runs.

Each handler imports what it runs when it runs: `--help` and `version` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version

from adapters.cli.approver_groups import add_approver_group_commands
from adapters.cli.artifacts import add_artifact_commands
from adapters.cli.audit import add_commands as add_audit_commands
from adapters.cli.console import add_subcommand, err, guarded, out, settings_or_none, telemetry
from adapters.cli.erase import add_erase_command
from adapters.cli.export import add_export_command
from adapters.cli.notifications import add_notifications_commands
from adapters.cli.operations import add_commands as add_operations_commands
from adapters.cli.pipelines_apply import add_pipelines_commands
from adapters.cli.runner import add_runner_commands
from adapters.cli.secrets import add_secrets_commands

Handler = Callable[[argparse.Namespace], int]

SETTINGS_HELP = """\
configuration: environment variables, also read from .env.default < .env < .env.local
  FLOWLEDGER_DATABASE_URL  PostgreSQL URL; unset: start an embedded PostgreSQL
  FLOWLEDGER_NATS_URL      NATS URL(s), comma-separated; unset: start an embedded NATS
  FLOWLEDGER_DATA_DIR      where embedded servers keep their data (default ./.flowledger)
  FLOWLEDGER_HOST          address the HTTP API listens on (default 127.0.0.1)
  FLOWLEDGER_PORT          port the HTTP API listens on (default 8000)
  FLOWLEDGER_LOG_LEVEL     DEBUG, INFO, WARNING or ERROR (default INFO)
  FLOWLEDGER_LOG_FORMAT    auto (console on a terminal, else json), json or console
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
        sub = add_subcommand(commands, name, summary, description, epilog)
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
        _role("up"),
    )
    add(
        "api",
        "serve the HTTP API only (one role, as compose and production run it)",
        "Serve the HTTP API alone on FLOWLEDGER_HOST:FLOWLEDGER_PORT, against "
        "FLOWLEDGER_DATABASE_URL and FLOWLEDGER_NATS_URL (embedded servers when unset). It does "
        "not apply migrations: run `flowledger migrate` first, or /ready answers 503.",
        _role("api"),
    )
    add(
        "projector",
        "keep the read models up to date (one role, as compose and production run it)",
        "Run the projector alone against FLOWLEDGER_DATABASE_URL (the embedded PostgreSQL when "
        "unset): it applies new events to every projection until Ctrl-C or SIGTERM. Any number "
        "may run; each projection is served by one of them at a time, and another takes over "
        "within seconds if it dies. It does not apply migrations: run `flowledger migrate` first.",
        _role("projector"),
    )
    add(
        "intake",
        "turn recorded webhook deliveries into runs (one role, as compose and production run it)",
        "Run the webhook intake alone against FLOWLEDGER_DATABASE_URL (the embedded PostgreSQL "
        "when unset): it reads each recorded webhook delivery in order, starts the pipelines "
        "whose triggers match or updates the external run it reports on, and records the "
        "outcome on the delivery. Any number may run; one of them serves at a time.",
        _role("intake"),
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
        _role("dispatcher"),
    )
    add(
        "deliverer",
        "send outbound webhooks to projects' subscriptions (one role)",
        "Run the deliverer alone against FLOWLEDGER_DATABASE_URL and FLOWLEDGER_NATS_URL "
        "(embedded servers when unset): it reads the relay's JetStream stream through one "
        "durable consumer per enabled subscription and POSTs each wanted event, in order, "
        "signed as a Standard Webhook; a failing delivery is retried with back-off for "
        "FLOWLEDGER_OUTBOUND_RETRY_FOR_S, then parked. Targets that are not public addresses "
        "are refused unless FLOWLEDGER_OUTBOUND_ALLOW names them. Any number may run; one of "
        "them delivers at a time.",
        _role("deliverer"),
    )
    add(
        "scheduler",
        "fire each due slot of every schedule trigger once (one role)",
        "Run the scheduler alone against FLOWLEDGER_DATABASE_URL (the embedded PostgreSQL when "
        "unset): every FLOWLEDGER_SCHEDULER_TICK_MS it starts a run for each schedule trigger "
        "whose cron slot has come, in the schedule's time zone. Any number may run: a slot's "
        "run has one id, so each slot starts one run however many schedulers see it. A slot "
        "missed while none ran is skipped or run once late, as the schedule's `catch_up` says.",
        _role("scheduler"),
    )
    add(
        "relay",
        "publish every event to NATS JetStream (one role, as compose and production run it)",
        "Run the relay alone: it publishes every committed event, in position order, to the "
        "JetStream stream FLOWLEDGER_RELAY_STREAM on FLOWLEDGER_NATS_URL, creating or updating "
        "the stream at start, and keeps its checkpoint in FLOWLEDGER_DATABASE_URL. Any number "
        "may run; one of them publishes at a time, and another takes over if it dies. See "
        "docs/streaming.md for the subjects and the message format.",
        _role("relay"),
    )
    add(
        "gateway",
        "serve the WebSocket gateway (/ws/runs, /ws/pipeline, /ws/project, /ws/system)",
        "Serve the WebSocket endpoints on FLOWLEDGER_HOST:FLOWLEDGER_PORT: clients authenticate "
        "with an API key or JWT (?token= or the subprotocol flowledger.token.<token>), resume "
        "with ?after=<position>, and receive each event's envelope as the relay publishes it. "
        "Stateless: run any number. See gateway/README.md for the protocol and close codes.",
        _role("gateway"),
    )
    add(
        "migrate",
        "apply pending database migrations and exit",
        "Apply every pending SQL migration to FLOWLEDGER_DATABASE_URL (or to the embedded "
        "PostgreSQL when unset), in order, each in its own transaction. Safe to run again and "
        "from several processes at once. Fails if an already-applied migration was edited.",
        _migrate,
    )
    add_operations_commands(commands, SETTINGS_HELP)
    add_erase_command(commands, SETTINGS_HELP)
    add_secrets_commands(commands, _with_settings("adapters.cli.secrets", "secrets_command"))
    add_export_command(commands, SETTINGS_HELP, _export)
    add_audit_commands(commands, SETTINGS_HELP)
    add_runner_commands(
        commands, runner=_runner, run=_with_settings("adapters.cli.runner", "run_pipeline")
    )
    add_pipelines_commands(
        commands, apply=_with_settings("adapters.cli.pipelines_apply", "apply_file")
    )
    add_artifact_commands(commands, _with_settings("adapters.cli.artifacts", "artifacts_command"))
    add_notifications_commands(
        commands, _with_settings("adapters.cli.notifications", "notifications_command")
    )
    add_approver_group_commands(
        commands, _with_settings("adapters.cli.approver_groups", "approver_groups_command")
    )
    add(
        "version",
        "print the flowledger version",
        "Print the installed flowledger version, from the package metadata, and exit.",
        _version,
        epilog=None,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def _version(_args: argparse.Namespace) -> int:
    out(version("flowledger"))
    return 0


def _runner(args: argparse.Namespace) -> int:
    # Not the composition root: a runner process loads only what a runner uses.
    from adapters.runner.launch import LaunchError, runner_config
    from adapters.runner.main import run_runner

    settings = settings_or_none()
    if settings is None:
        return 2
    telemetry(settings, "runner")
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
        return guarded(lambda: run_runner(config, out=out))
    except LaunchError as exc:
        err(f"flowledger: {exc}")
        return 1


def _with_settings(module: str, function: str) -> Handler:
    """The subcommand that runs `module.function(settings, args, out=, err=)`, imported then."""

    def run(args: argparse.Namespace) -> int:
        settings = settings_or_none()
        if settings is None:
            return 2
        command = getattr(importlib.import_module(module), function)
        return command(settings, args, out=out, err=err)

    return run


def _role(name: str) -> Handler:
    """The subcommand that runs the server role `name` (a function of bootstrap.processes)."""

    def run(_args: argparse.Namespace) -> int:
        from adapters.bootstrap import processes

        settings = settings_or_none()
        if settings is None:
            return 2
        telemetry(settings, name)
        return guarded(lambda: getattr(processes, name)(settings, out=out))

    return run


def _export(args: argparse.Namespace) -> int:
    from adapters.audit.export import export_command
    from adapters.cli.progress import progress

    settings = settings_or_none()
    if settings is None:
        return 2

    def export() -> None:
        with progress("exporting", unit="positions") as meter:
            export_command(settings, args, err=err, progress=meter)

    return guarded(export)


def _migrate(_args: argparse.Namespace) -> int:
    from adapters.bootstrap import processes  # deferred: `version` and `--help` stay fast

    settings = settings_or_none()
    if settings is None:
        return 2
    return guarded(lambda: processes.migrate_only(settings, out=out))


if __name__ == "__main__":
    sys.exit(main())
