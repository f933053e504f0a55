"""The `flowledger export` subcommand's arguments (kept light: `--help` loads no database code)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime

from adapters.cli.console import add_subcommand

DESCRIPTION = (
    "Write the global event feed as NDJSON, one envelope a line, in position order: every "
    "event after position --after (default 0), up to the head when the export starts, or at "
    "most --limit events. Each envelope carries its metadata and hash; data is upcast to the "
    "current schema, and stored_schema_version tells the version it was stored as. Memory "
    "stays constant however long the feed: events are read and written a batch at a time. A "
    "summary, with the --after to resume from, goes to stderr. Uses FLOWLEDGER_DATABASE_URL; "
    "unset, the PostgreSQL of the `flowledger up` running on FLOWLEDGER_DATA_DIR, or else an "
    "embedded one started there for the command."
)


def _position(raw: str) -> int:
    if not raw.isdigit():
        raise argparse.ArgumentTypeError("expected a position: a whole number, 0 or more")
    return int(raw)


def _count(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError("expected a positive whole number")
    return int(raw)


def _moment(raw: str) -> datetime:
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an RFC 3339 date-time") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("the date-time needs a timezone, like Z or +02:00")
    return at


def _names(raw: str) -> list[str]:
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected one name or a comma-separated list")
    return names


def add_export_command(
    commands: argparse._SubParsersAction, epilog: str, run: Callable[[argparse.Namespace], int]
) -> None:
    export = add_subcommand(
        commands,
        "export",
        "write the global event feed as NDJSON (for auditors and downstream systems)",
        DESCRIPTION,
        epilog,
    )
    export.add_argument(
        "--after", type=_position, default=0, metavar="N", help="events after this position"
    )
    export.add_argument("--limit", type=_count, metavar="N", help="at most N events")
    export.add_argument(
        "--stream-type",
        type=_names,
        action="extend",
        metavar="TYPE",
        help="only streams of these types (run, pipeline, ...); repeat or comma-separate",
    )
    export.add_argument(
        "--type",
        type=_names,
        action="extend",
        metavar="EVENT",
        help="only these event types (RunStarted, ...); repeat or comma-separate",
    )
    export.add_argument(
        "--recorded-after", type=_moment, metavar="TIME", help="recorded at or after (RFC 3339)"
    )
    export.add_argument(
        "--recorded-before", type=_moment, metavar="TIME", help="recorded before (RFC 3339)"
    )
    export.add_argument(
        "--output", "-o", metavar="FILE", help="write here instead of standard output"
    )
    export.set_defaults(run=run)
