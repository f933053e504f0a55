"""How runners are configured and reached: `flowledger runner`'s options over the settings,
the API and NATS they talk to, and the key of the local runner inside `flowledger up`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from adapters.platform import runtime
from adapters.platform.admin_key import create_key, revoke_key
from adapters.platform.embedded.nats import running_url
from adapters.platform.services import Services
from adapters.platform.settings import Settings
from adapters.runner.config import RunnerConfig

LOCAL_KEY_NAME = "local runner (flowledger up)"
UP_ACTOR = "flowledger up"


class LaunchError(Exception):
    """The runner cannot start as configured; the message says what to set."""


def api_url_of(settings: Settings) -> str:
    """FLOWLEDGER_API_URL, else the API of the `up` running on the data folder, else the one
    this host serves on FLOWLEDGER_HOST:FLOWLEDGER_PORT."""
    if settings.api_url:
        return settings.api_url.rstrip("/")
    return runtime.api_url(settings) or local_api_url(settings.host, settings.port)


def local_api_url(host: str, port: int) -> str:
    """The API served on `host:port`, seen from this host (a wildcard address is loopback)."""
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def nats_url_of(settings: Settings) -> str:
    """FLOWLEDGER_NATS_URL, else the embedded NATS of a `flowledger up` on this data folder."""
    if settings.nats_url:
        return settings.nats_url
    live = runtime.running(settings.data_dir)
    url = live.nats_url if live else running_url(settings.data_dir)
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


@contextlib.asynccontextmanager
async def local_runner_key(services: Services) -> AsyncIterator[str]:
    """A `runner`-scoped key for `up`'s own runner, revoked when `up` stops.

    Issued and revoked by the same commands as `flowledger keys create` and the API, anew on
    every start (only its hash is kept). An `up` killed outright leaves its key valid until
    revoked by hand.
    """
    key_id, token = await create_key(
        services, name=LOCAL_KEY_NAME, scopes=("runner",), project_id=None,
        at=datetime.now(UTC), actor=UP_ACTOR,
    )  # fmt: skip
    try:
        yield token
    finally:
        await revoke_key(
            services, key_id, reason="flowledger up stopped", at=datetime.now(UTC),
            actor=UP_ACTOR,
        )  # fmt: skip
