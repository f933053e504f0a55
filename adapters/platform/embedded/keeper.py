"""Watches the embedded servers a process started: reaps one that dies, starts it again on the
same data and port (bounded back-off), and gives up with a reason when it cannot.

The roles never learn of the restart beyond a dropped connection: every URL stays valid, so
their own reconnects bring them back. Giving up is the process's cue to exit non-zero, so
whatever runs it (systemd, compose) starts it afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from adapters.platform.embedded._process import DataGone, how_it_ended

log = logging.getLogger(__name__)

POLL_S = 0.2
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0)
"""Waits before each attempt to start a dead server; past the last one it is given up (~24 s)."""
CRASH_LIMIT = 8
CRASH_WINDOW_S = 60.0
"""A server that dies more often than this (each time started again) is in a crash loop."""


class Server(Protocol):
    """What the keeper needs of an embedded server (EmbeddedPostgres, EmbeddedNats)."""

    @property
    def pid(self) -> int | None: ...
    @property
    def port(self) -> int | None: ...
    def exited(self) -> int | None: ...
    def missing_data(self) -> str | None: ...
    def restart(self) -> None: ...


class ServersLost(RuntimeError):
    """An embedded server died and could not be started again."""


class _Watched:
    def __init__(self, name: str, server: Server) -> None:
        self.name = name
        self.server = server
        self.deaths: list[float] = []


class Keeper:
    """A thread that keeps `servers` (name, server) running until `close()`.

    It restarts servers from its own thread, which lives until they are stopped: the
    children's parent-death signal follows the thread that spawned them.
    """

    def __init__(
        self, servers: Sequence[tuple[str, Server]], *, crash_limit: int = CRASH_LIMIT
    ) -> None:
        self._watched = [_Watched(name, server) for name, server in servers]
        self._crash_limit = crash_limit
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="embedded-keeper", daemon=True)
        self.failure: str | None = None
        """Why a server was given up (then the process should exit non-zero)."""
        self.restarts = 0

    def start(self) -> None:
        if self._watched:
            self._thread.start()

    def close(self) -> None:
        """Stop watching; a restart under way finishes first (its start is bounded)."""
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join()

    async def watch(self, stop: asyncio.Event) -> None:
        """A role: returns when `stop` is set, or when a server is given up (which stops the
        other roles; the caller then raises `ServersLost`)."""
        while self.failure is None and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_S)

    def raise_if_lost(self) -> None:
        if self.failure is not None:
            raise ServersLost(self.failure)

    def _watch(self) -> None:
        while not self._closing.wait(POLL_S):
            if not all(self._keep(watched) for watched in self._watched):
                # Given up: the thread still lives until close(), or the servers it started
                # again would get their parent-death signal while the roles are stopping.
                self._closing.wait()
                return

    def _keep(self, watched: _Watched) -> bool:
        """Check one server, restarting it if it ended; False once it is given up."""
        server = watched.server
        if (why := server.missing_data()) is not None:
            return self._give_up(watched, why)
        pid = server.pid
        returncode = server.exited()  # polling reaps it: no zombie is left behind
        if returncode is None:
            return True
        log.error(
            "embedded %s (pid %s) ended with %s; starting it again on port %s",
            watched.name, pid, how_it_ended(returncode), server.port,
        )  # fmt: skip
        died_at = time.monotonic()
        watched.deaths = [t for t in watched.deaths if died_at - t < CRASH_WINDOW_S] + [died_at]
        if len(watched.deaths) > self._crash_limit:
            why = f"it died {len(watched.deaths)} times within {CRASH_WINDOW_S:g}s"
            return self._give_up(watched, why)
        return self._restart(watched, died_at)

    def _restart(self, watched: _Watched, died_at: float) -> bool:
        for attempt, delay in enumerate(BACKOFF_S, start=1):
            if self._closing.wait(delay):
                return False
            try:
                watched.server.restart()
            except DataGone as error:
                return self._give_up(watched, str(error))
            except Exception as error:
                # e.g. a killed postmaster's backends still hold its shared memory
                log.warning(
                    "embedded %s: start attempt %d of %d failed: %s",
                    watched.name, attempt, len(BACKOFF_S), error,
                )  # fmt: skip
                continue
            self.restarts += 1
            log.warning(
                "embedded %s is back (pid %s, port %s) %.1fs after it ended",
                watched.name, watched.server.pid, watched.server.port, time.monotonic() - died_at,
            )  # fmt: skip
            return True
        return self._give_up(watched, f"{len(BACKOFF_S)} attempts to start it failed (see its log)")

    def _give_up(self, watched: _Watched, why: str) -> bool:
        self.failure = f"embedded {watched.name} cannot be kept running: {why}"
        log.error("%s; stopping so that whatever runs flowledger can start it afresh", self.failure)
        return False
