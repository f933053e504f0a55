"""Starting runners: `flowledger runner` on its own, and the local runner inside `flowledger up`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

from adapters.platform.settings import Settings
from adapters.runner.api import ApiError, ApiUnavailable
from adapters.runner.config import RunnerConfig
from adapters.runner.runner import STOP_REPORT_S, Runner

Out = Callable[[str], None]
LOCAL_KEY_NAME = "local runner (flowledger up)"
UP_ACTOR = "flowledger up"


class LaunchError(Exception):
    """The runner cannot start as configured; the message says what to set."""


def api_url_of(settings: Settings) -> str:
    """FLOWLEDGER_API_URL, else the API this host serves on FLOWLEDGER_HOST:FLOWLEDGER_PORT."""
    if settings.api_url:
        return settings.api_url.rstrip("/")
    return local_api_url(settings.host, settings.port)


def local_api_url(host: str, port: int) -> str:
    """The API served on `host:port`, seen from this host (a wildcard address is loopback)."""
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def nats_url_of(settings: Settings) -> str:
    """FLOWLEDGER_NATS_URL, else the embedded NATS of a `flowledger up` on this data folder."""
    if settings.nats_url:
        return settings.nats_url
    from adapters.platform.embedded.nats import running_url

    url = running_url(settings.data_dir)
    if url is None:
        raise LaunchError(
            "no NATS to pull jobs from: set FLOWLEDGER_NATS_URL, or start `flowledger up` "
            f"with the data folder {settings.data_dir}"
        )
    return url


def runner_config(
    settings: Settings,
    *,
    labels: Sequence[str] | None = None,
    concurrency: int | None = None,
    name: str | None = None,
    api_url: str | None = None,
    token: str | None = None,
) -> RunnerConfig:
    """Command-line options over FLOWLEDGER_* settings."""
    token = token or settings.runner_token
    if not token:
        raise LaunchError(
            "a runner needs a `runner`-scoped API key: --token or FLOWLEDGER_RUNNER_TOKEN "
            "(make one with `flowledger keys create --name my-runner --scopes runner`)"
        )
    return RunnerConfig.from_settings(
        settings,
        api_url=(api_url or api_url_of(settings)).rstrip("/"),
        token=token,
        nats_url=nats_url_of(settings),
        labels=tuple(labels) if labels else None,
        concurrency=concurrency,
        name=name,
    )


def serve_runner(config: RunnerConfig, *, out: Out) -> None:
    """Run one runner until SIGINT/SIGTERM, then stop it gracefully."""
    from adapters.platform.runtime import Role, run_roles

    out(
        f"flowledger runner {config.name!r}: labels {','.join(config.labels)}, "
        f"concurrency {config.concurrency}, API {config.api_url}"
    )
    # Its own stop is bounded already: steps get their grace, then SIGTERM/SIGKILL, then the
    # reports their retry deadline; the process-wide bound must not cut that short.
    grace_s = config.shutdown_grace_s + config.kill_grace_s + STOP_REPORT_S + 5.0
    try:
        # asyncio's own loop, not uvloop: a runner's work is spawning steps, and asyncio spawns
        # with vfork where uvloop forks the whole process (3x the time, measured in this repo).
        asyncio.run(run_roles([Role("runner", Runner(config).run)], grace_s=grace_s))
    except BaseExceptionGroup as group:
        refused = group.subgroup((ApiError, ApiUnavailable))
        if refused is None:
            raise
        while isinstance(refused, BaseExceptionGroup):
            refused = refused.exceptions[0]
        why = f"the API at {config.api_url} did not take the runner: {refused}"
        raise LaunchError(why) from None


def local_runner(settings: Settings, *, api_url: str, nats_url: str, token: str) -> Runner:
    """The runner `up` starts beside its API, named `<host>-up` unless FLOWLEDGER_RUNNER_NAME."""
    name = settings.runner_name or f"{socket.gethostname()}-up"
    # `up` stops its API with everything else: running steps are stopped at once and
    # reported failed while the API may still answer, rather than outliving it.
    config = RunnerConfig.from_settings(
        settings, api_url=api_url, token=token, nats_url=nats_url, name=name, shutdown_grace_s=0.0
    )
    return Runner(config)


@contextlib.asynccontextmanager
async def local_runner_key(settings: Settings, database_url: str) -> AsyncIterator[str]:
    """A `runner`-scoped key for `up`'s own runner, revoked when `up` stops.

    Issued and revoked by the same commands as `flowledger keys create` and the API, anew on
    every start (only its hash is kept). An `up` killed outright leaves its key valid until
    revoked by hand.
    """
    from adapters.platform.admin_key import create_key, revoke_key
    from adapters.platform.services import open_services

    async with open_services(settings, database_url) as services:
        key_id, token = await create_key(
            services, name=LOCAL_KEY_NAME, scopes=("runner",), project_id=None,
            at=datetime.now(UTC), actor=UP_ACTOR,
        )  # fmt: skip
    try:
        yield token
    finally:
        async with open_services(settings, database_url) as services:
            await revoke_key(
                services, key_id, reason="flowledger up stopped", at=datetime.now(UTC),
                actor=UP_ACTOR,
            )  # fmt: skip
