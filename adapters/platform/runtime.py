"""Runs flowledger's roles side by side in one process until a signal or one role stops them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import uvicorn
from litestar import Litestar

from adapters.dispatch.role import dispatcher_role
from adapters.http import create_app
from adapters.platform.admin_key import ensure_admin_key
from adapters.platform.embedded import ServerUrls, embedded_servers
from adapters.platform.event_loop import run_role
from adapters.platform.services import open_services
from adapters.platform.settings import Settings
from adapters.runner.launch import local_api_url, local_runner, local_runner_key
from adapters.store.migrations import migrate
from adapters.webhooks.intake import intake_role

if TYPE_CHECKING:
    from projections.projection import Projection
    from projections.rebuild import RebuildReport
    from projections.status import ProjectionStatus


Out = Callable[[str], None]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SHUTDOWN_GRACE_S = 15.0
"""How long a role may take to stop once asked; the HTTP server's own bound is shorter."""
HTTP_GRACE_S = 10
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Role:
    """A named long-running part of flowledger; `run` must return soon after `stop` is set."""

    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]


def up(settings: Settings, *, out: Out) -> None:
    """Everything in one process: embedded servers if needed, migrations, then every role."""
    with listen(settings.host, settings.port) as sock, embedded_servers(settings, log=out) as urls:
        run_role(_up(settings, urls, sock, out))


def api(settings: Settings, *, out: Out) -> None:
    """Serve the HTTP API alone (migrations are `flowledger migrate`'s job)."""
    with listen(settings.host, settings.port) as sock, embedded_servers(settings, log=out) as urls:
        _announce(settings, urls, sock, out)
        run_role(run_roles([http_role(settings, urls, sock)]))


def projector(settings: Settings, *, out: Out) -> None:
    """Run the projector alone (migrations are `flowledger migrate`'s job)."""
    with embedded_servers(settings, log=out) as urls:
        out(f"flowledger {version('flowledger')} projector on {redact(urls.database_url)}")
        run_role(run_roles(with_probe(settings, [projector_role(urls)])))


def relay(settings: Settings, *, out: Out) -> None:
    """Run the NATS relay alone (migrations are `flowledger migrate`'s job)."""
    with embedded_servers(settings, log=out) as urls:
        out(f"flowledger {version('flowledger')} relay to {redact(urls.nats_url)}")
        run_role(run_roles(with_probe(settings, [relay_role(settings, urls)])))


def gateway(settings: Settings, *, out: Out) -> None:
    """Serve the WebSocket gateway (the app, whose /ws/ routes it is) on the API's port."""
    with listen(settings.host, settings.port) as sock, embedded_servers(settings, log=out) as urls:
        _announce(settings, urls, sock, out)
        run_role(run_roles([gateway_role(settings, urls, sock)]))


def projections_status(settings: Settings, *, out: Out) -> list[ProjectionStatus]:
    from projections.status import projection_status

    async def read(database_url: str) -> list[ProjectionStatus]:
        conn = await asyncpg.connect(database_url)
        try:
            return await projection_status(conn)
        finally:
            await conn.close()

    with embedded_servers(settings, log=out) as urls:
        return asyncio.run(read(urls.database_url))


def rebuild_projection(settings: Settings, name: str, *, out: Out) -> RebuildReport:
    """Rebuild one projection of the catalog from event 0 and swap it in."""
    from projections.rebuild import rebuild

    found = {p.name: p for p in catalog()}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise LookupError(f"no projection named {name!r} (known: {known})")
    with embedded_servers(settings, log=out) as urls:
        return asyncio.run(rebuild(urls.database_url, found[name]))


def migrate_only(settings: Settings, *, out: Out) -> list[str]:
    """Apply pending migrations (starting the embedded servers if needed) and report them."""
    with embedded_servers(settings, log=out) as urls:
        applied = asyncio.run(_migrate_and_bootstrap(settings, urls, out))
    out(f"applied {', '.join(applied)}" if applied else "no pending migrations")
    return applied


async def _migrate_and_bootstrap(
    settings: Settings, urls: ServerUrls, out: Out, *, example: bool = False
) -> list[str]:
    """Migrations, then, on a store with no key at all, the first admin key, shown once
    (and with `example`, the example pipeline, with the command that runs it)."""
    applied = await migrate(urls.database_url)
    async with open_services(settings, urls.database_url) as services:
        token = await ensure_admin_key(services, at=datetime.now(UTC))
        if token is not None and example:
            from adapters.platform.example import create_example

            await create_example(services, at=datetime.now(UTC))
    if token is not None:
        out("")
        out("  first start: an admin API key was created. It is shown this once:")
        out(f"      X-API-Key: {token}")
        out("  Keep it; `flowledger keys create` makes more.")
        if example:
            out("  An example pipeline is ready. Run it from another terminal here:")
            out(f"      FLOWLEDGER_API_KEY={token} uv run flowledger run example --follow")
        out("")
    return applied


async def _up(settings: Settings, urls: ServerUrls, sock: socket.socket, out: Out) -> None:
    # A fresh embedded data folder gets the example pipeline; a given database never does.
    fresh_folder = settings.database_url is None
    applied = await _migrate_and_bootstrap(settings, urls, out, example=fresh_folder)
    if applied:
        out(f"applied migrations: {', '.join(applied)}")
    _announce(settings, urls, sock, out)
    # The gateway's routes are part of the API's app; the runner talks to that API.
    async with local_runner_key(settings, urls.database_url) as runner_token:
        await run_roles(
            [
                http_role(settings, urls, sock),
                projector_role(urls),
                intake_role(settings, urls),
                relay_role(settings, urls),
                dispatcher_role(settings, urls),
                runner_role(settings, urls, sock, runner_token),
            ]
        )


async def run_roles(roles: Sequence[Role], *, grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """Run the roles concurrently until SIGINT/SIGTERM or any of them returns or fails.

    Once stopping, each role has `grace_s` to finish what it holds (requests in flight, a
    batch, a drain); one still running then is cancelled, so the process always ends.
    """
    stop = asyncio.Event()
    with _stop_on_signals(stop):
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_supervised(r, stop), name=r.name) for r in roles]
            group.create_task(_cancel_stragglers(stop, tasks, grace_s), name="shutdown-deadline")


async def _cancel_stragglers(
    stop: asyncio.Event, tasks: Sequence[asyncio.Task[None]], grace_s: float
) -> None:
    await stop.wait()
    _, pending = await asyncio.wait(tasks, timeout=grace_s)
    for task in pending:
        log.warning(
            "%s did not stop within %gs of the stop signal: cancelling it", task.get_name(), grace_s
        )
        task.cancel()


async def _supervised(role: Role, stop: asyncio.Event) -> None:
    try:
        await role.run(stop)
    finally:
        stop.set()  # one role ending means the process is no longer whole: stop the rest


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def restore() -> None:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)

    def first_signal() -> None:
        stop.set()
        # The previous handlers again, so a second Ctrl-C interrupts a stuck shutdown.
        restore()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, first_signal)
    try:
        yield
    finally:
        restore()


def with_probe(settings: Settings, roles: Sequence[Role]) -> list[Role]:
    """`roles`, plus /health and /metrics on FLOWLEDGER_PROBE_PORT when it is set."""
    if settings.probe_port is None:
        return list(roles)
    from adapters.telemetry.probe import probe_app

    app = probe_app("+".join(role.name for role in roles))
    sock = listen(settings.host, settings.probe_port)
    return [*roles, Role("probe", lambda stop: _serve_probe(app, sock, stop))]


async def _serve_probe(app: Litestar, sock: socket.socket, stop: asyncio.Event) -> None:
    with sock:
        await serve_http(app, sock, stop, log_level="WARNING")


def listen(host: str, port: int) -> socket.socket:
    """Bind the API socket up front, so a busy port fails before any server is started."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def http_role(settings: Settings, urls: ServerUrls, sock: socket.socket) -> Role:
    app = create_app(settings, database_url=urls.database_url, nats_url=urls.nats_url)
    return Role("api", lambda stop: serve_http(app, sock, stop, log_level=settings.log_level))


def gateway_role(settings: Settings, urls: ServerUrls, sock: socket.socket) -> Role:
    """The gateway's routes are part of the app: on its own, it is the app under another name."""
    app = create_app(settings, database_url=urls.database_url, nats_url=urls.nats_url)
    return Role("gateway", lambda stop: serve_http(app, sock, stop, log_level=settings.log_level))


def runner_role(settings: Settings, urls: ServerUrls, sock: socket.socket, token: str) -> Role:
    """The local runner of `up`, talking to this process's API over its socket."""
    api_url = local_api_url(*sock.getsockname()[:2])
    runner = local_runner(settings, api_url=api_url, nats_url=urls.nats_url, token=token)
    return Role("runner", runner.run)


def projector_role(urls: ServerUrls) -> Role:
    from projections.runtime import Projector

    return Role("projector", lambda stop: Projector(urls.database_url, catalog()).run(stop))


def relay_role(settings: Settings, urls: ServerUrls) -> Role:
    from adapters.streaming.relay import Relay, RelayConfig

    relay = Relay(urls.database_url, urls.nats_url, RelayConfig.from_settings(settings))
    return Role("relay", relay.run)


def catalog() -> tuple[Projection, ...]:
    """Every projection flowledger serves (imported late: `--help` stays fast)."""
    from projections.catalog import ALL

    return tuple(ALL)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the runtime decides when everything stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_http(
    app: Litestar, sock: socket.socket, stop: asyncio.Event, *, log_level: str
) -> None:
    host, port = sock.getsockname()[:2]
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="on",
            log_level=log_level.lower(),
            # Ours, not uvicorn's: its lines then go through the one JSON, scrubbing handler.
            log_config=None,
            # Requests in flight get this long to finish; WebSockets are closed (going away).
            timeout_graceful_shutdown=HTTP_GRACE_S,
            # The gateway sends each event to many clients: per-message deflate would compress
            # it once per client and hold a compressor per connection (most of an idle one).
            ws_per_message_deflate=False,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
    stopping = asyncio.create_task(stop.wait(), name="api-stop")
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await before_stop(app)
        server.should_exit = True
        stopping.cancel()
        await serving
    if not server.started:
        raise RuntimeError("the HTTP server failed to start (see the log above)")


async def before_stop(app: Litestar) -> None:
    """Run what the app asked to do while its server still serves (the gateway's goodbyes)."""
    for hook in app.state.get("before_stop", []):
        try:
            await hook()
        except Exception:  # a failed goodbye must not keep the server from stopping
            log.exception("a before-stop hook failed")


def _announce(settings: Settings, urls: ServerUrls, sock: socket.socket, out: Out) -> None:
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    embedded = settings.database_url is None or settings.nats_url is None
    out(f"flowledger {version('flowledger')}")
    out(f"  listening on  http://{shown_host}:{port}  (OpenAPI at /docs)")
    out(f"  database      {redact(urls.database_url)}")
    out(f"  nats          {redact(urls.nats_url)}")
    out(f"  data          {settings.data_dir if embedded else 'in the servers above'}")


def redact(url: str) -> str:
    """The URL without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
