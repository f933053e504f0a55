"""Project secrets (`read`): names, versions, environment, who set them and when; no value."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import Query, QuerySpec, page_of, paging
from adapters.http.security import Req
from commands.context import Principal
from projections import projects, secrets
from projections.paging import PageResult
from projections.projection import live_schema

VIEWS = ("secrets", "projects")
SECRETS = QuerySpec.of(*paging(secrets.SECRET_SORTS, "name"))


class SecretPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[secrets.SecretItem]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None
    """Rows matching the filters, given when `count=true` was asked."""


@get(
    "/api/v1/projects/{project_id:uuid}/secrets",
    operation_id="listSecrets",
    tags=["secrets"],
    operation_class=SECRETS.operation(),
    responses=views.ITEM_ANSWERS,
    description="The project's secrets that hold a value: name, environment (null: the "
    "project-wide one), version, when it was created and last set, and by whom. Never a "
    "value. Another project's id answers 404, as an unknown one does.",
)
async def list_secrets(request: Req, project_id: FromPath[UUID]) -> Response[SecretPage]:
    query = SECRETS.parse(request.query_params.dict())
    position, result = await read_views(
        request, query, VIEWS, secrets_reader(request.user, project_id, query)
    )
    return Response(
        page_of_secrets(query, position, result), headers={POSITION_HEADER: str(position)}
    )


def secrets_reader(
    principal: Principal, project_id: UUID, query: Query
) -> Callable[[Any], Awaitable[PageResult[secrets.SecretItem] | None]]:
    """The read of a project's secrets by `principal` (None: no such project in its reach)."""
    if principal.project_id is not None and principal.project_id != project_id:
        raise views.not_found("project")
    principal.require("read", project_id, "write")
    page = page_of(query)
    if "order" not in query.values:
        page = msgspec.structs.replace(page, order="asc")

    async def read(conn: Any) -> PageResult[secrets.SecretItem] | None:
        if await projects.get_project(conn, live_schema("projects"), project_id) is None:
            return None
        return await secrets.list_secrets(
            conn, live_schema("secrets"), project_id=project_id, page=page
        )

    return read


def page_of_secrets(
    query: Query, position: int, result: PageResult[secrets.SecretItem] | None
) -> SecretPage:
    if result is None:
        raise views.not_found("project")
    return views.page_body(SecretPage, query, position, result)


ROUTES = [list_secrets]
