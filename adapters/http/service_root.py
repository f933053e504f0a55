"""`GET /` (what this service is and where to go next) and `GET /ping` (a cheap liveness echo)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import version

import msgspec
from litestar import Controller, get

SERVICE_NAME = "flowledger"


class ServiceLinks(msgspec.Struct, frozen=True, kw_only=True):
    docs: str
    openapi: str
    dashboard: str
    health: str
    ready: str
    api: str


class ServiceRoot(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: str
    description: str
    links: ServiceLinks


class Pong(msgspec.Struct, frozen=True, kw_only=True):
    pong: bool
    time: datetime


ROOT = ServiceRoot(
    name=SERVICE_NAME,
    version=version(SERVICE_NAME),
    description="An event-sourced control plane for pipeline and workflow runs.",
    links=ServiceLinks(
        docs="/docs",
        openapi="/docs/openapi.json",
        dashboard="/dashboard",
        health="/health",
        ready="/ready",
        api="/api/v1",
    ),
)


class ServiceRootController(Controller):
    tags = ["health"]

    @get("/", operation_id="getServiceRoot", summary="The service's name, version and links")
    async def root(self) -> ServiceRoot:
        return ROOT

    @get("/ping", operation_id="ping", summary="Answers at once; checks nothing")
    async def ping(self) -> Pong:
        return Pong(pong=True, time=datetime.now(UTC))
