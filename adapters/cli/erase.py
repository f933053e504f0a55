"""`flowledger erase subject ID --reason WHY`: forget a person (crypto-shredding).

Imports what it runs when it runs: `--help` and `version` stay fast.
"""

from __future__ import annotations

import argparse

from adapters.cli.console import add_subcommand, err, guarded, out, settings_or_none


def add_erase_command(commands: argparse._SubParsersAction, epilog: str) -> None:
    erase = commands.add_parser(
        "erase",
        help="erase a person's data (`erase subject ID --reason WHY`)",
        description="Erase personal data by deleting its data subject's key.",
    )
    actions = erase.add_subparsers(dest="erase_command", required=True, metavar="WHAT")
    subject = add_subcommand(
        actions,
        "subject",
        "delete a data subject's key: its personal data reads [erased] everywhere",
        "Record a DataSubjectErased event (who, why; no personal data), then delete the "
        "subject's key: every sealed value of that person (raw webhook bodies, names as "
        "actors) reads [erased] in history, exports, replays and rebuilt read models. The "
        "events and their hash chains stay as they are. Find a subject id with GET "
        "/api/v1/data-subjects?email=... (admins). Uses FLOWLEDGER_DATABASE_URL, or the "
        "embedded PostgreSQL under FLOWLEDGER_DATA_DIR when unset.",
        epilog,
    )
    subject.add_argument("subject_id", metavar="ID", help="the subject id, e.g. ds_0123...")
    subject.add_argument("--reason", required=True, help="why, kept on the erasure event")
    subject.set_defaults(run=_erase_subject)


def _erase_subject(args: argparse.Namespace) -> int:
    settings = settings_or_none()
    if settings is None:
        return 2

    def erase() -> None:
        from adapters.bootstrap.erasure import erase_subject

        stream = erase_subject(settings, args.subject_id, reason=args.reason, log=err)
        out(f"erased {args.subject_id} (on record in stream {stream})")

    return guarded(erase)
