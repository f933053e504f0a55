"""Projects (`read`), API keys and webhook sources (`admin`): lists and single items."""

from __future__ import annotations

from typing import Any, get_args
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids, visible
from adapters.http.reads.params import QuerySpec, choice, page_of, paging, uuid
from adapters.http.security import Req
from domain.api_key import ApiKeyStatus
from domain.project import ProjectStatus
from domain.webhook_source import Kind, WebhookSourceStatus
from projections import api_keys, projects, webhook_sources
from projections.projection import live_schema

ONE = QuerySpec.of()
PROJECTS = QuerySpec.of(
    choice("status", [s.value for s in ProjectStatus]),
    *paging(projects.PROJECT_SORTS, "created_at"),
)
API_KEYS = QuerySpec.of(
    uuid("project_id"),
    choice("status", [s.value for s in ApiKeyStatus]),
    *paging(api_keys.API_KEY_SORTS, "created_at"),
)
WEBHOOK_SOURCES = QuerySpec.of(
    uuid("project_id"),
    choice("kind", get_args(Kind)),
    choice("status", [s.value for s in WebhookSourceStatus]),
    *paging(webhook_sources.WEBHOOK_SOURCE_SORTS, "created_at"),
)


class ProjectPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[projects.ProjectRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None
    """Rows matching the filters, given when `count=true` was asked."""


class ApiKeyPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[api_keys.ApiKeyRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None
    """Rows matching the filters, given when `count=true` was asked."""


class WebhookSourcePage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[webhook_sources.WebhookSourceRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None
    """Rows matching the filters, given when `count=true` was asked."""


@get(
    "/api/v1/projects",
    operation_id="listProjects",
    tags=["projects"],
    operation_class=PROJECTS.operation(),
    responses=views.LIST_ANSWERS,
    description="The projects the caller may read.",
)
async def list_projects(request: Req) -> Response[ProjectPage]:
    query = PROJECTS.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None))
    status = query.get("status") and ProjectStatus(query.get("status"))
    page = page_of(query)
    schema = live_schema("projects")
    return await views.page(
        request,
        query,
        ("projects",),
        ProjectPage,
        lambda conn: projects.list_projects(
            conn, schema, project_ids=reach, status=status, page=page
        ),
    )


@get(
    "/api/v1/projects/{project_id:uuid}",
    operation_id="getProject",
    tags=["projects"],
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_project(request: Req, project_id: FromPath[UUID]) -> Response[projects.ProjectRow]:
    query = ONE.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None))

    async def read(conn: Any) -> projects.ProjectRow | None:
        found = await projects.get_project(conn, live_schema("projects"), project_id)
        return found if found is None or reach is None or found.id in reach else None

    return await views.item(request, query, ("projects",), read, "project")


@get(
    "/api/v1/api-keys",
    operation_id="listApiKeys",
    tags=["api keys"],
    operation_class=API_KEYS.operation(),
    responses=views.LIST_ANSWERS,
    description="Needs `admin`; never shows a secret.",
)
async def list_api_keys(request: Req) -> Response[ApiKeyPage]:
    query = API_KEYS.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, query.get("project_id"), "admin"))
    status = query.get("status") and ApiKeyStatus(query.get("status"))
    page = page_of(query)
    schema = live_schema("api_keys")
    return await views.page(
        request,
        query,
        ("api_keys",),
        ApiKeyPage,
        lambda conn: api_keys.list_api_keys(
            conn, schema, project_ids=reach, status=status, page=page
        ),
    )


@get(
    "/api/v1/api-keys/{key_id:uuid}",
    operation_id="getApiKey",
    tags=["api keys"],
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_api_key(request: Req, key_id: FromPath[UUID]) -> Response[api_keys.ApiKeyRow]:
    query = ONE.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None, "admin"))

    async def read(conn: Any) -> api_keys.ApiKeyRow | None:
        return visible(await api_keys.get_api_key(conn, live_schema("api_keys"), key_id), reach)

    return await views.item(request, query, ("api_keys",), read, "API key")


@get(
    "/api/v1/webhook-sources",
    operation_id="listWebhookSources",
    tags=["webhook sources"],
    operation_class=WEBHOOK_SOURCES.operation(),
    responses=views.LIST_ANSWERS,
    description="Needs `admin`; never shows a secret.",
)
async def list_webhook_sources(request: Req) -> Response[WebhookSourcePage]:
    query = WEBHOOK_SOURCES.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, query.get("project_id"), "admin"))
    status = query.get("status") and WebhookSourceStatus(query.get("status"))
    kind, page = query.get("kind"), page_of(query)
    schema = live_schema("webhook_sources")
    return await views.page(
        request,
        query,
        ("webhook_sources",),
        WebhookSourcePage,
        lambda conn: webhook_sources.list_webhook_sources(
            conn, schema, project_ids=reach, kind=kind, status=status, page=page
        ),
    )


@get(
    "/api/v1/webhook-sources/{source_id:uuid}",
    operation_id="getWebhookSource",
    tags=["webhook sources"],
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_webhook_source(
    request: Req, source_id: FromPath[UUID]
) -> Response[webhook_sources.WebhookSourceRow]:
    query = ONE.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None, "admin"))

    async def read(conn: Any) -> webhook_sources.WebhookSourceRow | None:
        schema = live_schema("webhook_sources")
        return visible(await webhook_sources.get_webhook_source(conn, schema, source_id), reach)

    return await views.item(request, query, ("webhook_sources",), read, "webhook source")


ROUTES = [
    list_projects,
    get_project,
    list_api_keys,
    get_api_key,
    list_webhook_sources,
    get_webhook_source,
]
