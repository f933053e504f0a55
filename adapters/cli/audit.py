"""The auditor's subcommands: `flowledger audit verify` and `flowledger replay run ID`."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from adapters.cli.console import add_subcommand, err, guarded, out, settings_or_none

if TYPE_CHECKING:  # the CLI stays quick to start: these load when a command runs
    import asyncpg

    from adapters.audit.verify import VerifyReport

BROKEN = 3
"""Exit status of `audit verify` when a chain is broken (1 stays for "could not check")."""
T = TypeVar("T")


def add_commands(commands: argparse._SubParsersAction, epilog: str) -> None:
    """Register `audit` and `replay` on the top-level parser's subcommands."""
    audit = commands.add_parser(
        "audit",
        help="check the event store for tampering (`audit verify`)",
        description="Audit the event store.",
    )
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = add_subcommand(
        actions,
        "verify",
        "recompute the hash chains and report the first broken link",
        "Recompute every stream's hash chain from the stored rows (or one stream's, with "
        "--stream) and check that the global positions have no hole. Prints what was checked "
        "and, for each broken stream, its first bad link: the position, the stream, the "
        "version and what is wrong (hash mismatch: an event was altered; version gap: one was "
        "deleted; versions swapped or out of order: history was reordered). Exit status 0 "
        f"when intact, {BROKEN} when something is broken, 1 when it could not check.",
        epilog,
    )
    which = verify.add_mutually_exclusive_group()
    which.add_argument("--stream", metavar="ID", help="check this stream only")
    which.add_argument("--all", action="store_true", help="check every stream (the default)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(run=_verify)

    replay = commands.add_parser(
        "replay",
        help="print a run's history as a timeline (`replay run ID`)",
        description="Replay history from the event store, for people.",
    )
    actions = replay.add_subparsers(dest="replay_command", required=True, metavar="WHAT")
    run = add_subcommand(
        actions,
        "run",
        "print a run's events as a timeline, one line each",
        "Read the run's stream from the event store and print one line per event: when it "
        "happened, its version, the actor who caused it, the event and its key fields. Each "
        "burst of log chunks is folded into one line (how many, their size, the channels and a "
        "first line), so a long log does not drown the story.",
        epilog,
    )
    run.add_argument("run_id", type=UUID, metavar="RUN_ID", help="the run's id")
    run.set_defaults(run=_replay_run)


def _verify(args: argparse.Namespace) -> int:
    import msgspec

    from adapters.audit.verify import verify_all, verify_stream
    from adapters.cli.progress import progress

    async def check(conn: asyncpg.Connection) -> VerifyReport | None:
        if args.stream:
            return await verify_stream(conn, args.stream)
        with progress("verifying") as meter:
            return await verify_all(conn, meter)

    def report(found: VerifyReport | None) -> int:
        if found is None:
            err(f"flowledger: no events in stream {args.stream!r}")
            return 1
        if args.json:
            out(msgspec.json.encode(found).decode())
        else:
            for line in describe(found):
                out(line)
        return 0 if found.ok else BROKEN

    return _with_database(check, report)


def describe(report: VerifyReport) -> list[str]:
    """The report for people: a summary line, then one line per break."""
    what = f"stream {report.stream_id}" if report.scope == "stream" else "every stream"
    rate = report.events / report.seconds if report.seconds else 0.0
    lines = [
        f"checked {what}: {report.events:,} events in {report.streams:,} streams up to "
        f"position {report.head:,} in {report.seconds:.2f} s ({rate:,.0f} events/s)"
    ]
    if report.ok:
        lines.append("intact: every hash recomputes and no position is missing")
        return lines
    lines.append(
        f"BROKEN: {report.broken_streams} stream(s) with a bad link, "
        f"{report.position_gaps} hole(s) in the positions; first at position "
        f"{report.breaks[0].position}"
    )
    for b in report.breaks:
        where = f"stream {b.stream_id} version {b.version}" if b.stream_id else "global feed"
        lines.append(f"  position {b.position}: {b.kind} in {where}: {b.detail}")
    return lines


def _replay_run(args: argparse.Namespace) -> int:
    from adapters.audit.timeline import NotARun, read_run, timeline

    async def read(conn: asyncpg.Connection) -> list[str] | str:
        try:
            return list(timeline(await read_run(conn, args.run_id)))
        except NotARun as error:
            return str(error)

    def show(lines: list[str] | str) -> int:
        if isinstance(lines, str):
            err(f"flowledger: {lines}")
            return 1
        for line in lines:
            out(line)
        return 0

    return _with_database(read, show)


def _with_database(
    work: Callable[[asyncpg.Connection], Awaitable[T]], then: Callable[[T], int]
) -> int:
    """Run `work` on a connection to the configured (or embedded) database, then `then`.

    Returns the CLI's status for a failure to get there (bad settings, database down), else
    the status `then` gives.
    """
    settings = settings_or_none()
    if settings is None:
        return 2
    status = 0

    def go() -> None:
        nonlocal status
        import asyncpg

        from adapters.audit.export import configured_database

        async def once(url: str) -> T:
            conn = await asyncpg.connect(url)
            try:
                return await work(conn)
            finally:
                await conn.close()

        with configured_database(settings, err) as url:
            status = then(asyncio.run(once(url)))

    return guarded(go) or status
