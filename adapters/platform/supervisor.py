"""Runs roles side by side in one process until a signal, or one of them, stops them all.

It knows no role: each is a name and a coroutine, composed by adapters.bootstrap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import uvicorn
from litestar import Litestar

from adapters.platform.http_protocol import CoalescingHttpToolsProtocol
from adapters.platform.settings import Settings
from adapters.telemetry.probe import probe_app

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


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the supervisor decides when everything stops."""

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
            # One send per response instead of head and body apart (see http_protocol).
            http=CoalescingHttpToolsProtocol,
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
