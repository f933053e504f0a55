"""The litestar app: middleware, problem details, OpenAPI, health and metrics around the
routes and lifespans it is given (adapters.bootstrap decides which, for each process)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.plugins.problem_details import ProblemDetailsPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from adapters.http.bodies import JsonRequest
from adapters.http.head import head_as_get
from adapters.http.health import HealthController
from adapters.http.openapi import OperationDeclarations, openapi_config
from adapters.http.openapi_words import TriggerWords
from adapters.http.own_writes import OwnWrites, tell_awaited_position
from adapters.http.problems import exception_handlers, problem_details_config
from adapters.http.security import (
    FlowledgerAuthentication,
    cors_config,
    security_headers,
    security_middleware,
)
from adapters.http.service_root import ServiceRootController
from adapters.platform.settings import Settings
from adapters.telemetry.http import MetricsController, echo_request_id, request_telemetry

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]
DOCS_ASSETS = Path(__file__).parent / "docs_assets"


def create_app(
    settings: Settings,
    *,
    routes: Sequence[ControllerRouterHandler],
    lifespan: Sequence[Lifespan] = (),
    state: Mapping[str, Any] | None = None,
) -> Litestar:
    """Build the app; whatever it serves with (pool, NATS, services) opens in `lifespan`.

    Lifespans are entered in order and left in reverse: a later one may use what an earlier
    one put in the app's state.
    """
    app = Litestar(
        route_handlers=[
            HealthController,
            ServiceRootController,
            create_static_files_router(
                path="/docs/assets", directories=[DOCS_ASSETS], include_in_schema=False
            ),
            *([MetricsController] if settings.metrics_enabled else []),
            *routes,
        ],
        lifespan=list(lifespan),
        middleware=[
            request_telemetry(
                metrics=settings.metrics_enabled, tracing=settings.traces_exporter != "none"
            ),
            *security_middleware(settings),
            DefineMiddleware(FlowledgerAuthentication),
        ],
        cors_config=cors_config(settings),
        before_send=[security_headers, echo_request_id, tell_awaited_position],
        request_max_body_size=settings.max_body_bytes,
        request_class=JsonRequest,
        plugins=[
            ProblemDetailsPlugin(problem_details_config()),
            OperationDeclarations(),
            TriggerWords(),
        ],
        exception_handlers=exception_handlers(),
        openapi_config=openapi_config(),
        state=State(
            {
                "settings": settings,
                "migrations_dir": None,
                "own_writes": OwnWrites(wait_ms=settings.read_your_writes_ms),
                **(state or {}),
            }
        ),
        # The process's logging is configured once, by adapters.telemetry: not by litestar.
        logging_config=None,
    )
    app.asgi_handler = head_as_get(app.asgi_handler)
    return app
