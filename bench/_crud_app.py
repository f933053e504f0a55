"""The CRUD baseline of bench/commands.py, served inside the uvicorn process: the same routes
and security pieces as the API, one INSERT per request."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import msgspec
from litestar import Controller, Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.params import FromPath, JSONBody
from litestar.plugins.problem_details import ProblemDetailsPlugin

from adapters.bootstrap import open_services
from adapters.http.commanding import CommandAnswer
from adapters.http.problems import problem_details_config
from adapters.http.security import (
    FlowledgerAuthentication,
    cors_config,
    security_headers,
    security_middleware,
)
from adapters.http.writes.runs import RunRequest, StatusReport
from adapters.platform.settings import Settings

CRUD_TABLE = """CREATE TABLE crud_commands (
    id uuid PRIMARY KEY, kind text NOT NULL, subject uuid NOT NULL, actor text NOT NULL,
    body json NOT NULL, recorded_at timestamptz NOT NULL)"""
CRUD_INSERT = (
    "INSERT INTO crud_commands (id, kind, subject, actor, body, recorded_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)


class CrudRoutes(Controller):
    path = "/api/v1"

    @post("/pipelines/{pipeline_id:uuid}/runs")
    async def trigger(
        self, request: Request, pipeline_id: FromPath[uuid.UUID], data: JSONBody[RunRequest]
    ) -> Response:
        run_id = uuid.uuid4()
        await _insert(request, run_id, "run_requested", pipeline_id, data)
        return _answer(run_id, 201)

    @post("/pipeline-runs/{run_id:uuid}/status")
    async def status(
        self, request: Request, run_id: FromPath[uuid.UUID], data: JSONBody[StatusReport]
    ) -> Response:
        await _insert(request, uuid.uuid4(), "status_reported", run_id, data)
        return _answer(run_id, 202)


async def _insert(
    request: Request, row_id: uuid.UUID, kind: str, subject: uuid.UUID, data: msgspec.Struct
) -> None:
    body = msgspec.json.encode(data).decode()
    now = datetime.now(UTC)
    await request.app.state.crud_pool.execute(
        CRUD_INSERT, row_id, kind, subject, request.user.name, body, now
    )


def _answer(row_id: uuid.UUID, status: int) -> Response:
    body = msgspec.json.encode(CommandAnswer(id=str(row_id), version=1))
    return Response(body, status_code=status, media_type="application/json")


@get("/health")
async def crud_health() -> dict[str, str]:
    return {"status": "ok"}


def crud_app(settings: Settings, *, database_url: str, nats_url: str) -> Litestar:
    """The baseline: the security pieces of `create_app` (keep them in step), CRUD routes."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # The services are there for authentication: the API key is read the same way.
        async with (
            open_services(settings, database_url) as services,
            asyncpg.create_pool(database_url, min_size=1, max_size=10) as pool,
        ):
            app.state.services, app.state.crud_pool = services, pool
            yield

    return Litestar(
        route_handlers=[crud_health, CrudRoutes],
        lifespan=[lifespan],
        middleware=[
            *security_middleware(settings),
            DefineMiddleware(FlowledgerAuthentication),
        ],
        before_send=[security_headers],
        cors_config=cors_config(settings),
        request_max_body_size=settings.max_body_bytes,
        plugins=[ProblemDetailsPlugin(problem_details_config())],
        state=State({"settings": settings}),
    )
