"""A small HTTP listener for roles that serve no API (projector, relay, intake, dispatcher,
runner): /health for the orchestrator's probe and /metrics for Prometheus."""

from __future__ import annotations

import msgspec
from litestar import Litestar, Response, get

from adapters.telemetry.metrics import exposition


class Alive(msgspec.Struct, frozen=True):
    status: str
    role: str


def probe_app(role: str) -> Litestar:
    """/health answers while the process's event loop does; /metrics is its own counters."""

    @get("/health", sync_to_thread=False)
    def health() -> Alive:
        return Alive(status="ok", role=role)

    @get("/metrics", sync_to_thread=False, media_type="text/plain")
    def metrics() -> Response[bytes]:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    return Litestar(route_handlers=[health, metrics], openapi_config=None, logging_config=None)
