"""The HTTP side of telemetry: X-Request-ID, request spans and metrics, and the /metrics route."""

from __future__ import annotations

import re
import uuid

from litestar import Controller, Response, get
from litestar.datastructures import MutableScopeHeaders, State
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE

from adapters.telemetry.lag import refresh_from_database
from adapters.telemetry.logs import request_id
from adapters.telemetry.metrics import exposition

REQUEST_ID_HEADER = "x-request-id"
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_STATE_KEY = "flowledger_request_id"
UNTRACED_PATHS = ["/health", "/ready", "/metrics"]


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Make the request's id current for everything logged while it is served."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        # Not reset afterwards: each request runs in a task of its own, and the server's access
        # line and an error answered outside this middleware should carry the id too.
        request_id.set(ensure_request_id(scope))
        _name_span_by_route(scope)
        await app(scope, receive, send)

    return middleware


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
        rid = given if given and _ACCEPTABLE_ID.fullmatch(given) else uuid.uuid4().hex
        state[_STATE_KEY] = rid
    return rid


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def tracing_plugin() -> OpenTelemetryPlugin:
    """Litestar's OpenTelemetry plugin: one server span per request, named by route."""
    # No spans per ASGI receive/send message: three spans a request for no insight.
    return OpenTelemetryPlugin(
        OpenTelemetryConfig(
            exclude=UNTRACED_PATHS,
            exclude_spans=["receive", "send"],
        )
    )


def _name_span_by_route(scope: Scope) -> None:
    """Name the request's span by its route once routing is done (the tracing middleware wraps
    the whole app, so it only saw the raw path): `POST /api/v1/pipeline-runs/{run_id}/logs`,
    not one name per id."""
    current = trace.get_current_span()
    route = scope.get("path_template")
    if not route or not current.is_recording():
        return
    method = str(scope.get("method", "")).strip()
    current.update_name(f"{method} {route}" if method else route)
    current.set_attribute(HTTP_ROUTE, route)


def prometheus_config() -> PrometheusConfig:
    """Request count and latency by method, route template and status."""
    return PrometheusConfig(
        app_name="flowledger",
        prefix="flowledger_http",
        group_path=True,
        exclude=UNTRACED_PATHS,
    )


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
