"""What every subcommand shares: printing, reading the settings, and clear failures."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable

from adapters.platform.settings import Settings, SettingsError, load_settings


def out(line: str) -> None:
    print(line, flush=True)


def err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def add_subcommand(
    actions: argparse._SubParsersAction,
    name: str,
    summary: str,
    description: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """A subcommand whose description is wrapped to 78 columns and whose epilog keeps its lines."""
    return actions.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, 78),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def settings_or_none() -> Settings | None:
    """The settings, or None once the problems are printed (the caller exits with 2)."""
    try:
        return load_settings()
    except SettingsError as exc:
        err(f"flowledger: invalid configuration:\n{exc}")
        return None


def guarded(run: Callable[[], object]) -> int:
    """Turn the failures a user can fix into one clear line instead of a traceback."""
    # Loaded when a command runs, not at import: `--help` and `version` stay fast.
    import asyncpg

    from adapters.platform.embedded import DataDirInUse, ServersLost
    from adapters.store.migrations import MigrationError
    from domain.errors import DomainError

    try:
        run()
    except KeyboardInterrupt:
        return 130
    except asyncpg.UndefinedTableError as exc:
        err(f"flowledger: {exc}: is the database migrated? (`flowledger migrate`)")
        return 1
    except (
        DataDirInUse,
        ServersLost,
        MigrationError,
        DomainError,
        OSError,
        asyncpg.PostgresError,
    ) as exc:
        err(f"flowledger: {exc}")
        return 1
    return 0


def telemetry(settings: Settings, service: str) -> None:
    """Logs, traces and metrics for this process, named after what it runs."""
    from adapters.telemetry.setup import configure_telemetry  # deferred: loads OpenTelemetry

    configure_telemetry(settings, service)
