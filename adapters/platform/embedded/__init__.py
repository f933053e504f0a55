"""Start whichever of PostgreSQL and NATS has no URL configured, for the lifetime of a block
(and, for long-running processes, keep them running: see keeper.py)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

import msgspec

from adapters.platform.embedded._process import DataGone
from adapters.platform.embedded.keeper import Keeper, ServersLost
from adapters.platform.embedded.lock import DataDirInUse, DataDirLock
from adapters.platform.embedded.nats import EmbeddedNats
from adapters.platform.embedded.postgres import EmbeddedPostgres
from adapters.platform.settings import Settings

__all__ = [
    "DataDirInUse",
    "DataDirLock",
    "DataGone",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "Keeper",
    "ServerUrls",
    "ServersLost",
    "embedded_servers",
    "kept_servers",
]


class ServerUrls(msgspec.Struct, frozen=True):
    database_url: str
    nats_url: str


@contextlib.contextmanager
def embedded_servers(
    settings: Settings, *, log: Callable[[str], None] = print
) -> Iterator[ServerUrls]:
    """Yield the servers' URLs, starting (and afterwards stopping) the missing ones.

    The data folder is locked only if something is started. Call it from the main thread:
    stopping relies on finally-blocks, and SIGTERM is turned into SystemExit for that.
    """
    with _servers(settings, log, keep=False) as (urls, _):
        yield urls


@contextlib.contextmanager
def kept_servers(
    settings: Settings, *, log: Callable[[str], None] = print
) -> Iterator[tuple[ServerUrls, Keeper]]:
    """As `embedded_servers`, and a started `Keeper` that restarts a server which dies.

    For long-running processes: run `keeper.watch` as a role, and afterwards call
    `keeper.raise_if_lost()` so a server given up ends the process non-zero.
    """
    with _servers(settings, log, keep=True) as found:
        yield found


@contextlib.contextmanager
def _servers(
    settings: Settings, log: Callable[[str], None], *, keep: bool
) -> Iterator[tuple[ServerUrls, Keeper]]:
    database_url, nats_url = settings.database_url, settings.nats_url
    if database_url and nats_url:
        yield ServerUrls(database_url, nats_url), Keeper([])
        return
    kept: list[tuple[str, EmbeddedPostgres | EmbeddedNats]] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(_sigterm_exits())
        lock = DataDirLock(settings.data_dir)
        lock.acquire()
        stack.callback(lock.release)
        if not database_url:
            postgres = EmbeddedPostgres(settings.data_dir)
            stack.callback(_stopping, postgres.stop, "PostgreSQL", log)
            database_url = postgres.start()
            kept.append(("PostgreSQL", postgres))
            log(f"embedded PostgreSQL at {database_url} (data in {postgres.pgdata})")
        if not nats_url:
            nats = EmbeddedNats(settings.data_dir)
            stack.callback(_stopping, nats.stop, "NATS", log)
            nats_url = nats.start()
            kept.append(("NATS", nats))
            log(f"embedded NATS with JetStream at {nats_url} (data in {nats.store_dir})")
        keeper = Keeper(kept if keep else [])
        # Closed before the servers stop (callbacks run in reverse), so none is restarted
        # while it is being stopped.
        stack.callback(keeper.close)
        keeper.start()
        yield ServerUrls(database_url, nats_url), keeper


def _stopping(stop: Callable[[], None], name: str, log: Callable[[str], None]) -> None:
    log(f"stopping embedded {name}")
    stop()


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    # By default SIGTERM kills Python without running finally-blocks, which would leave the
    # servers to their parent-death signal; exiting normally stops them in order instead.
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def exit_on_sigterm(signum: int, frame: object) -> None:
        # A second SIGTERM (e.g. forwarded by `uv run`) must not cut the ordered stop short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
