"""`flowledger runner` as a process: one runner until SIGINT/SIGTERM, then stopped gracefully.

It imports only the runner's own rooms (no database driver, no HTTP server, no projections):
a runner process stays about 40 MB lighter than one that loads the composition root.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from adapters.platform.supervisor import Role, run_roles
from adapters.runner.api import ApiError, ApiUnavailable
from adapters.runner.config import RunnerConfig
from adapters.runner.launch import LaunchError
from adapters.runner.outage import ServerGone
from adapters.runner.process import watch_children_by_pidfd
from adapters.runner.runner import STOP_REPORT_S, Runner


def run_runner(config: RunnerConfig, *, out: Callable[[str], None]) -> None:
    out(
        f"flowledger runner {config.name!r}: labels {','.join(config.labels)}, "
        f"concurrency {config.concurrency}, API {config.api_url}"
    )
    # Its own stop is bounded already: steps get their grace, then SIGTERM/SIGKILL, then the
    # reports their retry deadline; the process-wide bound must not cut that short.
    grace_s = config.shutdown_grace_s + config.kill_grace_s + STOP_REPORT_S + 5.0
    watch_children_by_pidfd()
    try:
        # asyncio's own loop, not uvloop: a runner's work is spawning steps, and asyncio spawns
        # with vfork where uvloop forks the whole process (3x the time, measured in this repo).
        asyncio.run(run_roles([Role("runner", Runner(config).run)], grace_s=grace_s))
    except BaseExceptionGroup as group:
        if (gone := group.subgroup(ServerGone)) is not None:
            raise LaunchError(str(gone.exceptions[0])) from None
        refused = group.subgroup((ApiError, ApiUnavailable))
        if refused is None:
            raise
        while isinstance(refused, BaseExceptionGroup):
            refused = refused.exceptions[0]
        why = f"the API at {config.api_url} did not take the runner: {refused}"
        raise LaunchError(why) from None
