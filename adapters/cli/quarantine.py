"""`flowledger projections quarantine list|retry|skip`: an operator acts on a view's quarantine.

Each handler imports what it runs when it runs: `--help` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.cli.console import add_subcommand, err, guarded, out, settings_or_none

if TYPE_CHECKING:
    from projections.quarantine_ops import QuarantinedEvent

_WHERE = (
    "Uses FLOWLEDGER_DATABASE_URL; unset, the PostgreSQL of the `flowledger up` running on "
    "FLOWLEDGER_DATA_DIR, or else an embedded one started there for the command."
)


def add_quarantine(actions: argparse._SubParsersAction, epilog: str) -> None:
    """Register `quarantine list|retry|skip` under `projections`."""
    quarantine = add_subcommand(
        actions,
        "quarantine",
        "list, retry or skip the events a view set aside",
        "When a projection's handler fails on an event, the view keeps that event (the "
        "poison) and the later events of its stream (parked) in a quarantine, marks that "
        "stream's rows degraded, and goes on with every other stream. List them, retry "
        "them once a fix is deployed, or skip the poison event. Every retry and skip is a "
        "command whose event (ProjectionRetryRequested, ProjectionEventSkipped) keeps who "
        "and why in the ledger; the projector acts on it in order, and a rebuild replays "
        "it. " + _WHERE,
        epilog,
    )
    verbs = quarantine.add_subparsers(dest="quarantine_command", required=True, metavar="ACTION")
    listing = verbs.add_parser(
        "list", help="print the quarantined events, per view and stream", epilog=epilog
    )
    listing.add_argument("name", nargs="?", metavar="NAME", help="only this projection")
    listing.add_argument("--stream", metavar="STREAM_ID", help="only this stream")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=_list)
    for verb, what in (
        ("retry", "apply the stream's quarantined events again, in order, after a fix"),
        ("skip", "drop the stream's poison event, then apply its parked events in order"),
    ):
        command = verbs.add_parser(verb, help=what, description=what + ".", epilog=epilog)
        command.add_argument("name", metavar="NAME", help="the projection, e.g. runs")
        command.add_argument(
            "position",
            metavar="POSITION",
            type=int,
            help="the poison event's position (`quarantine list` shows it)",
        )
        command.add_argument(
            "--reason",
            required=verb == "skip",
            default="retry after a fix" if verb == "retry" else None,
            help="why (recorded for auditors)" + ("; default: %(default)s" * (verb == "retry")),
        )
        command.add_argument(
            "--actor", help="who decides (recorded for auditors); default: user@host"
        )
        command.add_argument("--json", action="store_true", help="print the result as JSON")
        command.set_defaults(run=_act, verb=verb)


def _list(args: argparse.Namespace) -> int:
    import msgspec

    from adapters.bootstrap import quarantine

    settings = settings_or_none()
    if settings is None:
        return 2

    def show() -> None:
        events = quarantine.list_quarantined(settings, args.name, args.stream, out=err)
        if args.json:
            out(msgspec.json.encode(events).decode())
        elif events:
            out(_table(events))
        else:
            err("nothing is quarantined")

    return _run(show)


def _act(args: argparse.Namespace) -> int:
    import getpass
    import socket

    import msgspec

    from adapters.bootstrap import quarantine

    settings = settings_or_none()
    if settings is None:
        return 2
    actor = args.actor or f"{getpass.getuser()}@{socket.gethostname()}"
    outcomes: list[str] = []

    def act() -> None:
        result = quarantine.act(
            settings,
            args.verb,
            args.name,
            args.position,
            actor=actor,
            reason=args.reason,
            out=err,
        )
        came = result.outcome
        outcomes.append(came.outcome)
        if args.json:
            out(msgspec.json.encode(result).decode())
        done = f"skipped event {result.position}" if args.verb == "skip" else "retried"
        line = f"{result.projection} {result.stream_id}: {done}"
        if came.outcome == "applied":
            err(f"{line}; the stream is whole again")
        elif came.outcome == "pending":
            err(f"{line}; recorded, the projector has not reached it yet")
        else:
            err(f"{line}; {came.remaining} still quarantined: {came.error}")

    code = _run(act)
    # Failing again (or not yet applied) is not done: a script must see it.
    return 1 if code == 0 and outcomes != ["applied"] else code


def _run(job: Callable[[], object]) -> int:
    try:
        return guarded(job)
    except (LookupError, ValueError) as exc:
        err(f"flowledger: {exc}")
        return 1


def _table(events: list[QuarantinedEvent]) -> str:
    """Per view and stream: the poison with its error, then how many wait behind it."""
    lines: list[str] = []
    current: tuple[str, str] | None = None
    for e in events:
        if (e.projection, e.stream_id) != current:
            current = (e.projection, e.stream_id)
            lines.append(f"{e.projection}  stream {e.stream_id}")
        seen = e.first_seen.isoformat(timespec="seconds")
        detail = f"{e.error_class}: {e.error} (attempts {e.attempts})" if e.error else ""
        lines.append(f"  {e.position:>10}  {e.status:<6}  {e.type:<24}  {seen}  {detail}".rstrip())
    return "\n".join(lines)
