"""The HTTP side of telemetry: X-Request-ID, request spans and metrics, and the /metrics route."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from litestar import Controller, Response, get
from litestar.datastructures import MutableScopeHeaders, State
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.trace import Status, StatusCode

from adapters.telemetry.lag import refresh_from_database
from adapters.telemetry.logs import request_id
from adapters.telemetry.metrics import HTTP_REQUESTS, HTTP_SECONDS, counted, exposition, observed
from adapters.telemetry.server_span import server_span
from adapters.telemetry.tracing import context_from

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_STATE_KEY = "flowledger_request_id"
UNOBSERVED_PATHS = frozenset({"/health", "/ready", "/metrics"})
"""Probes and scrapes: neither spans nor request metrics (they would drown the real ones)."""


def request_telemetry(*, metrics: bool, tracing: bool) -> Callable[[ASGIApp], ASGIApp]:
    """One middleware for what every request carries: its id (for the logs), its server span
    (continuing the caller's `traceparent`) and its count and latency by route and status.

    One lean layer rather than litestar's OpenTelemetry and Prometheus plugins: those wrap the
    app before routing (no route template) and cost a Request object and a dozen attribute
    look-ups per request, which showed as a third more CPU per command in bench/commands.py.
    """

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            # Not reset afterwards: each request runs in a task of its own, and the server's
            # access line and an error answered outside this middleware carry the id too.
            request_id.set(ensure_request_id(scope))
            route = scope.get("path_template") or scope["path"]
            if scope["type"] != "http" or route in UNOBSERVED_PATHS:
                await app(scope, receive, send)
                return
            await _observed(app, scope, receive, send, route, metrics=metrics, tracing=tracing)

        return middleware

    return wrap


async def _observed(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    route: str,
    *,
    metrics: bool,
    tracing: bool,
) -> None:
    method = scope["method"]
    status = 500  # what an exception that escapes everything becomes

    async def send_noting_status(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    started = time.perf_counter()
    try:
        if not tracing:
            await app(scope, receive, send_noting_status)
            return
        parent = context_from(_header(scope, "traceparent"))
        with server_span(f"{method} {route}", parent) as current:
            recording = current.is_recording()
            if recording:  # an unsampled request gets no attribute work at all
                current.set_attributes({HTTP_ROUTE: route, HTTP_REQUEST_METHOD: method})
            try:
                await app(scope, receive, send_noting_status)
            except HTTPException as refused:  # raised by a middleware after this one
                status = refused.status_code
                raise
            finally:
                if recording:
                    current.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
                    if status >= 500:
                        current.set_status(Status(StatusCode.ERROR))
    except HTTPException as refused:
        status = refused.status_code
        raise
    finally:
        if metrics:
            counted(HTTP_REQUESTS, method, route, str(status)).value += 1
            observed(HTTP_SECONDS, method, route)(time.perf_counter() - started)


async def echo_request_id(message: Message, scope: Scope) -> None:
    """A before_send hook: every answer carries X-Request-ID, errors raised anywhere included."""
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = ensure_request_id(scope)


def ensure_request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is sane, else a new one; the same for the whole request."""
    state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
    rid = state.get(_STATE_KEY)
    if rid is None:
        given = _header(scope, REQUEST_ID_HEADER)
        # 32 random hex digits, as uuid4().hex gave, without building a UUID on every request.
        rid = given if given and _ACCEPTABLE_ID.fullmatch(given) else secrets.token_hex(16)
        state[_STATE_KEY] = rid
    return rid


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


class MetricsController(Controller):
    tags = ["health"]

    @get(
        "/metrics",
        operation_id="getMetrics",
        summary="Prometheus metrics of this process, and every role's lag from PostgreSQL",
        media_type="text/plain",
        include_in_schema=True,
    )
    async def metrics(self, state: State) -> Response[bytes]:
        await refresh_from_database(state.pool)
        body, content_type = exposition()
        return Response(body, media_type=content_type)
