"""What each `flowledger` subcommand runs: the servers it needs, then its roles or its one job."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from uuid import UUID

import asyncpg

from adapters.bootstrap.banner import announce, repeated_when_ready
from adapters.bootstrap.heap import heap_frozen
from adapters.bootstrap.resources import open_resources
from adapters.bootstrap.roles import (
    catalog,
    deliverer_role,
    dispatcher_role,
    gateway_role,
    http_role,
    intake_role,
    projector_role,
    relay_role,
    runner_role,
    scheduler_role,
)
from adapters.platform.admin_key import create_key, ensure_admin_key
from adapters.platform.embedded import Keeper, ServerUrls, kept_servers
from adapters.platform.event_loop import run_role
from adapters.platform.example import create_example
from adapters.platform.runtime import Runtime, runtime_file, servers
from adapters.platform.services import Services
from adapters.platform.setting_values import redact
from adapters.platform.settings import Settings
from adapters.platform.supervisor import Role, listen, run_roles, with_probe
from adapters.runner.config import RunnerConfig
from adapters.runner.launch import local_api_url, local_runner_key
from adapters.runner.main import run_runner
from adapters.store.migrations import migrate
from projections.rebuild import RebuildReport, rebuild
from projections.status import ProjectionStatus, projection_status

Out = Callable[[str], None]


def up(settings: Settings, *, out: Out) -> None:
    """Everything in one process: embedded servers if needed, migrations, then every role."""
    with listen(settings.host, settings.port) as sock, kept_servers(settings, log=out) as kept:
        urls, keeper = kept
        with _reason_if_lost(keeper):
            run_role(_up(settings, urls, keeper, sock, out))


def api(settings: Settings, *, out: Out) -> None:
    """Serve the HTTP API alone (migrations are `flowledger migrate`'s job)."""
    with listen(settings.host, settings.port) as sock, kept_servers(settings, log=out) as kept:
        urls, keeper = kept
        announce(settings, urls, sock, out)
        with _reason_if_lost(keeper):
            run_role(run_roles([http_role(settings, urls, sock), _keeping(keeper)]))


def gateway(settings: Settings, *, out: Out) -> None:
    """Serve the WebSocket gateway alone, with /health and /ready, on the API's port."""
    with listen(settings.host, settings.port) as sock, kept_servers(settings, log=out) as kept:
        urls, keeper = kept
        announce(settings, urls, sock, out, dashboard=False)
        with _reason_if_lost(keeper):
            run_role(run_roles([gateway_role(settings, urls, sock), _keeping(keeper)]))


def projector(settings: Settings, *, out: Out) -> None:
    """Run the projector alone (migrations are `flowledger migrate`'s job)."""
    _alone(settings, out, "projector", lambda urls: projector_role(settings, urls))


def relay(settings: Settings, *, out: Out) -> None:
    """Run the NATS relay alone (migrations are `flowledger migrate`'s job)."""
    _alone(settings, out, "relay", lambda urls: relay_role(settings, urls), to_nats=True)


def intake(settings: Settings, *, out: Out) -> None:
    """The `flowledger intake` command: this role alone (migrations are `migrate`'s job)."""
    _alone(settings, out, "intake", lambda urls: intake_role(settings, urls))


def dispatcher(settings: Settings, *, out: Out) -> None:
    """The `flowledger dispatcher` command: this role alone (migrations are `migrate`'s job)."""
    _alone(settings, out, "dispatcher", lambda urls: dispatcher_role(settings, urls))


def deliverer(settings: Settings, *, out: Out) -> None:
    """The `flowledger deliverer` command: outbound webhooks alone (migrations are `migrate`'s)."""
    _alone(settings, out, "deliverer", lambda urls: deliverer_role(settings, urls), to_nats=True)


def scheduler(settings: Settings, *, out: Out) -> None:
    """The `flowledger scheduler` command: this role alone (migrations are `migrate`'s job)."""
    _alone(settings, out, "scheduler", lambda urls: scheduler_role(settings, urls))


def _alone(
    settings: Settings,
    out: Out,
    name: str,
    role: Callable[[ServerUrls], Role],
    *,
    to_nats: bool = False,
) -> None:
    with kept_servers(settings, log=out) as (urls, keeper):
        where = f"to {redact(urls.nats_url)}" if to_nats else f"on {redact(urls.database_url)}"
        out(f"flowledger {version('flowledger')} {name} {where}")
        # The keeper's watch is no role of the probe's name: it is beside whatever runs.
        with _reason_if_lost(keeper), heap_frozen():
            run_role(run_roles([*with_probe(settings, [role(urls)]), _keeping(keeper)]))


def _keeping(keeper: Keeper) -> Role:
    """The embedded servers' watch as a role: a server given up stops the process."""
    return Role("embedded-servers", keeper.watch)


@contextlib.contextmanager
def _reason_if_lost(keeper: Keeper) -> Iterator[None]:
    """Once the roles have stopped, a server given up is why: it is raised (and `up` exits
    non-zero saying so) rather than whatever the roles met on their way down."""
    try:
        yield
    finally:
        keeper.raise_if_lost()


def runner(config: RunnerConfig, *, out: Out) -> None:
    """`flowledger runner`: one runner until SIGINT/SIGTERM, then stopped gracefully."""
    run_runner(config, out=out)


def projections_status(settings: Settings, *, out: Out) -> list[ProjectionStatus]:
    async def read(database_url: str) -> list[ProjectionStatus]:
        conn = await asyncpg.connect(database_url)
        try:
            return await projection_status(conn)
        finally:
            await conn.close()

    with servers(settings, log=out) as urls:
        return asyncio.run(read(urls.database_url))


def rebuild_projection(
    settings: Settings,
    name: str,
    *,
    out: Out,
    progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Rebuild one projection of the catalog from event 0 and swap it in."""
    found = {p.name: p for p in catalog()}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise LookupError(f"no projection named {name!r} (known: {known})")
    with servers(settings, log=out) as urls:
        return asyncio.run(rebuild(urls.database_url, found[name], progress=progress))


def migrate_only(settings: Settings, *, out: Out) -> list[str]:
    """Apply pending migrations (starting the embedded servers if needed) and report them."""

    async def migrate_then_first_key(database_url: str) -> list[str]:
        applied = await migrate(database_url)
        async with open_resources(settings, "command", database_url) as resources:
            await _first_admin_key(resources.services, out)
        return applied

    with servers(settings, log=out) as urls:
        applied = asyncio.run(migrate_then_first_key(urls.database_url))
    out(f"applied {', '.join(applied)}" if applied else "no pending migrations")
    return applied


def issue_key(
    settings: Settings,
    *,
    name: str,
    scopes: Collection[str],
    project_id: UUID | None,
    expires_at: Callable[[datetime], datetime | None],
    log: Out,
) -> tuple[UUID, str]:
    """`flowledger keys create`: issue one key; `(key id, token to show once)`."""

    async def issue(database_url: str) -> tuple[UUID, str]:
        at = datetime.now(UTC)
        async with open_resources(settings, "command", database_url) as resources:
            return await create_key(
                resources.services,
                name=name,
                scopes=scopes,
                project_id=project_id,
                at=at,
                expires_at=expires_at(at),
            )

    with servers(settings, log=log) as urls:
        return asyncio.run(issue(urls.database_url))


async def _up(
    settings: Settings, urls: ServerUrls, keeper: Keeper, sock: socket.socket, out: Out
) -> None:
    applied = await migrate(urls.database_url)
    # One pool and one NATS connection for the API, the intake, the relay, the dispatcher and
    # the deliverer
    # (the local runner is a client like any other: its own connection, to its own API).
    async with open_resources(settings, "up", urls.database_url, urls.nats_url) as shared:
        # A fresh embedded data folder gets the example pipeline; a given database never does.
        fresh_folder = settings.database_url is None
        banner = await _first_admin_key(shared.services, out, example=fresh_folder)
        if applied:
            out(f"applied migrations: {', '.join(applied)}")
        announce(settings, urls, sock, out)
        # The gateway's routes are part of the API's app; the runner talks to that API.
        async with (
            local_runner_key(shared.services) as runner_token,
            _published(settings, urls, sock),
            repeated_when_ready(local_api_url(*sock.getsockname()[:2]), banner, out),
        ):
            await run_roles(
                [
                    http_role(settings, urls, sock, shared),
                    projector_role(settings, urls),
                    intake_role(settings, urls, shared),
                    relay_role(settings, urls, shared),
                    dispatcher_role(settings, urls, shared),
                    deliverer_role(settings, urls, shared),
                    scheduler_role(settings, urls, shared),
                    runner_role(settings, urls, sock, runner_token),
                    _keeping(keeper),
                ]
            )


async def _first_admin_key(services: Services, out: Out, *, example: bool = False) -> list[str]:
    """On a store with no key at all, the first admin key, shown once (and with `example`,
    the example pipeline, with the command that runs it); the lines printed."""
    token = await ensure_admin_key(services, at=datetime.now(UTC))
    if token is None:
        return []
    if example:
        await create_example(services, at=datetime.now(UTC))
    lines = [
        "",
        "  first start: an admin API key was created. It is shown this once:",
        f"      X-API-Key: {token}",
        "  Keep it; `flowledger keys create` makes more.",
    ]
    if example:
        lines += [
            "  An example pipeline is ready. Run it from another terminal here:",
            f"      FLOWLEDGER_API_KEY={token} uv run flowledger run example --follow",
        ]
    for line in [*lines, ""]:
        out(line)
    return lines


@contextlib.asynccontextmanager
async def _published(
    settings: Settings, urls: ServerUrls, sock: socket.socket
) -> AsyncIterator[None]:
    """Tell the other subcommands where this `up`'s servers are (when it holds the data folder)."""
    if settings.database_url and settings.nats_url:
        yield
        return
    here = Runtime(
        pid=os.getpid(),
        api_url=local_api_url(*sock.getsockname()[:2]),
        database_url=urls.database_url,
        nats_url=urls.nats_url,
    )
    with runtime_file(settings.data_dir, here):
        yield
