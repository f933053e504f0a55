"""Environments and approvals as the views show them: an environment's rules, its deployment
history, and the steps that wait for a decision."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_ids
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import MAX_LIMIT, QuerySpec, integer, uuid
from adapters.http.security import Req
from commands.context import Forbidden, Principal
from projections import approvals, environments
from projections.projection import live_schema

TAGS = ["environments"]
ENVIRONMENTS = ("environments",)
APPROVALS = ("approvals",)
ENVIRONMENT_SCHEMA = live_schema("environments")
APPROVAL_SCHEMA = live_schema("approvals")
DEFAULT_LIMIT = 50
ONE = QuerySpec.of()
HISTORY = QuerySpec.of(
    integer("limit", 1, MAX_LIMIT, f"at most this many, default {DEFAULT_LIMIT}")
)
PENDING = QuerySpec.of(
    uuid("project_id"),
    uuid("run_id", "only this run's waiting steps"),
    integer("limit", 1, MAX_LIMIT, f"at most this many, default {DEFAULT_LIMIT}"),
)


class Deployments(msgspec.Struct, frozen=True, kw_only=True):
    environment: environments.EnvironmentRow
    items: list[environments.DeploymentRow]
    position: int


class PendingApprovals(msgspec.Struct, frozen=True, kw_only=True):
    items: list[approvals.PendingApproval]
    position: int


def reach(principal: Principal, project_id: UUID | None) -> tuple[UUID, ...] | None:
    """The projects a caller with `read` or `approve` may see waiting approvals of."""
    principal.require("read", principal.project_id, "approve")
    if principal.project_id is None:
        return project_ids(project_id)
    if project_id is not None and project_id != principal.project_id:
        raise Forbidden(f"{principal.name} may only read project {principal.project_id}")
    return (principal.project_id,)


def _visible(principal: Principal, project_id: UUID) -> bool:
    return principal.allows("read", project_id) or principal.allows("approve", project_id)


@get(
    "/api/v1/projects/{project_id:uuid}/environments/{name:str}",
    operation_id="getEnvironment",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_environment(
    request: Req, project_id: FromPath[UUID], name: FromPath[str]
) -> Response[environments.EnvironmentRow]:
    query = ONE.parse(request.query_params.dict())
    visible = _visible(request.user, project_id)

    async def read(conn: Any) -> environments.EnvironmentRow | None:
        if not visible:
            return None
        return await environments.get_environment(conn, ENVIRONMENT_SCHEMA, project_id, name)

    return await views.item(request, query, ENVIRONMENTS, read, "environment")


@get(
    "/api/v1/projects/{project_id:uuid}/environments/{name:str}/deployments",
    operation_id="listDeployments",
    tags=TAGS,
    operation_class=HISTORY.operation(),
    responses=views.ITEM_ANSWERS,
    description="The environment's deployments, newest first: run, commit, approvers, outcome.",
)
async def list_deployments(
    request: Req, project_id: FromPath[UUID], name: FromPath[str]
) -> Response[Deployments]:
    query = HISTORY.parse(request.query_params.dict())
    visible = _visible(request.user, project_id)
    limit = query.get("limit") or DEFAULT_LIMIT

    async def read(conn: Any) -> tuple[Any, list[environments.DeploymentRow]]:
        if not visible:
            return None, []
        found = await environments.get_environment(conn, ENVIRONMENT_SCHEMA, project_id, name)
        if found is None:
            return None, []
        rows = await environments.deployments(
            conn, ENVIRONMENT_SCHEMA, project_id, name, limit=limit
        )
        return found, rows

    position, (found, rows) = await read_views(request, query, ENVIRONMENTS, read)
    if found is None:
        raise views.not_found("environment")
    body = Deployments(environment=found, items=rows, position=position)
    return Response(body, headers={POSITION_HEADER: str(position)})


@get(
    "/api/v1/approvals",
    operation_id="listPendingApprovals",
    tags=["approvals"],
    operation_class=PENDING.operation(),
    responses=views.LIST_ANSWERS,
    description="Steps waiting in `waiting_for_approval` (the `read` or `approve` scope).",
)
async def list_pending_approvals(request: Req) -> Response[PendingApprovals]:
    query = PENDING.parse(request.query_params.dict())
    projects = reach(request.user, query.get("project_id"))
    limit = query.get("limit") or DEFAULT_LIMIT

    async def read(conn: Any) -> list[approvals.PendingApproval]:
        return await approvals.pending(
            conn, APPROVAL_SCHEMA, projects, run_id=query.get("run_id"), limit=limit
        )

    position, items = await read_views(request, query, APPROVALS, read)
    body = PendingApprovals(items=items, position=position)
    return Response(body, headers={POSITION_HEADER: str(position)})


ROUTES = [get_environment, list_deployments, list_pending_approvals]
