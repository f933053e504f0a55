"""The `runner` and `run` subcommands: their options, help, and what `run` does end to end."""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Callable

from adapters.platform.settings import Settings

Handler = Callable[[argparse.Namespace], int]
Out = Callable[[str], None]

EXIT_USAGE, EXIT_API = 2, 5
RUN_EXIT_HELP = """\
configuration: environment variables (.env files too)
  FLOWLEDGER_API_URL  the API (default: that of `flowledger up` on FLOWLEDGER_DATA_DIR,
                      else http://FLOWLEDGER_HOST:FLOWLEDGER_PORT)
  FLOWLEDGER_API_KEY  the API key sent as X-API-Key (needs `write` and `read`)

exit codes with --follow: 0 succeeded, 1 failed, 3 cancelled, 4 timed out;
  without --follow: 0 once the run is requested. 2: bad usage or configuration;
  5: the API refused the request or could not be reached; 130: interrupted (the run goes on).
"""
RUNNER_HELP = """\
  FLOWLEDGER_RUNNER_TOKEN  its `runner`-scoped API key (`keys create --scopes runner`)
  FLOWLEDGER_API_URL       the API (default: that of `flowledger up` here, else
                           http://FLOWLEDGER_HOST:FLOWLEDGER_PORT)
  FLOWLEDGER_NATS_URL      NATS (default: the embedded one of `flowledger up` here)
  FLOWLEDGER_RUNNER_*      NAME, LABELS, CONCURRENCY, KILL_GRACE_S, SHUTDOWN_GRACE_S,
                           LOG_CHUNK_BYTES, LOG_STEP_BYTES, WORK_DIR: see the README
"""
_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


def add_runner_commands(
    commands: argparse._SubParsersAction, *, runner: Handler, run: Handler
) -> None:
    sub = commands.add_parser(
        "runner",
        help="run pipeline steps: pull jobs for some labels and execute them",
        description=textwrap.fill(
            "Register with the API as a runner, heartbeat, and pull step jobs from NATS "
            "JetStream for each label, never more than --concurrency at once. Each step runs "
            "with `bash -e` in a fresh folder, in its own process group; its output goes back "
            "as log chunks, its end as the step's status. Needs only the API and NATS, no "
            "database. On SIGTERM it stops pulling, lets running steps finish (up to "
            "FLOWLEDGER_RUNNER_SHUTDOWN_GRACE_S), then deregisters.",
            78,
        ),
        epilog="configuration: environment variables (.env files too)\n" + RUNNER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub.add_argument("--labels", type=_labels, metavar="L1,L2", help="default: linux")
    sub.add_argument("--concurrency", type=_positive, metavar="N", help="steps at once (2)")
    sub.add_argument("--name", help="its name, unique per runner (default: the host name)")
    sub.add_argument("--api", metavar="URL", help="the API's base URL")
    sub.add_argument("--token", metavar="KEY", help="its runner-scoped API key")
    sub.set_defaults(run=runner)

    trigger = commands.add_parser(
        "run",
        help="trigger a pipeline run; with --follow, stream its log until it ends",
        description=textwrap.fill(
            "Request a run of PIPELINE (its id, or the name of exactly one active pipeline) "
            "with the given parameters, typed as the pipeline declares them. With --follow, "
            "print its log, each line prefixed with its step, and the steps' progress on "
            "stderr, until the run ends; the exit code then tells how it ended.",
            78,
        ),
        epilog=RUN_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trigger.add_argument("pipeline", metavar="PIPELINE", help="pipeline id or name")
    trigger.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="repeat for each"
    )
    trigger.add_argument("--follow", "-f", action="store_true", help="stream the log until done")
    trigger.add_argument("--api", metavar="URL", help="the API's base URL")
    trigger.add_argument("--token", metavar="KEY", help="API key (default FLOWLEDGER_API_KEY)")
    trigger.set_defaults(run=run)


def run_pipeline(settings: Settings, args: argparse.Namespace, *, out: Out, err: Out) -> int:
    """Trigger (and follow) a run; the exit code."""
    import httpx

    from adapters.cli.run_follow import follow
    from adapters.cli.run_trigger import (
        RunCommandError,
        UsageError,
        client,
        find_pipeline,
        trigger,
        typed_parameters,
    )
    from adapters.runner.launch import api_url_of

    token = args.token or settings.api_key
    if not token:
        err("flowledger: give an API key: --token or FLOWLEDGER_API_KEY")
        return EXIT_USAGE
    api_url = (args.api or api_url_of(settings)).rstrip("/")
    try:
        with client(api_url, token) as http:
            pipeline = find_pipeline(http, args.pipeline)
            parameters = typed_parameters(pipeline, args.param)
            run_id, position = trigger(http, str(pipeline["id"]), parameters)
            err(f"run {run_id} of {pipeline['name']} requested")
            if not args.follow:
                out(run_id)
                return 0
            try:
                return follow(http, run_id, since=position, write=out, note=err)
            except KeyboardInterrupt:
                err(f"stopped following; the run goes on (cancel: POST "
                    f"{api_url}/api/v1/pipeline-runs/{run_id}/cancel)")  # fmt: skip
                return 130
    except UsageError as exc:
        err(f"flowledger: {exc}")
        return EXIT_USAGE
    except RunCommandError as exc:
        err(f"flowledger: {exc}")
        return EXIT_API
    except (OSError, httpx.TransportError) as exc:
        err(f"flowledger: cannot reach the API at {api_url}: {exc}")
        return EXIT_API


def _labels(raw: str) -> tuple[str, ...]:
    labels = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not labels or not all(_LABEL.fullmatch(label) for label in labels):
        raise argparse.ArgumentTypeError(
            "expected comma-separated labels of letters, digits, '_', '.', ':' or '-'"
        )
    return labels


def _positive(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise argparse.ArgumentTypeError("expected a whole number from 1 to 1000")
    return int(raw)
