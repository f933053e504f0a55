"""A project's notification rules (from their view) and each one's delivery attempts (from the
deliverer's log, the same as the outbound webhooks': a rule's attempts are kept under its id)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import visible
from adapters.http.reads.delivery_attempts import (
    DELIVERIES_HELP,
    DeliveryPage,
    admin_reach,
    attempts_page,
    deliveries_query,
)
from adapters.http.reads.params import (
    QuerySpec,
    many,
    page_of,
    paging,
)
from adapters.http.security import Req
from domain.notification_rule import RuleStatus
from projections import notification_rules
from projections.projection import live_schema

TAGS = ["notifications"]
VIEWS = ("notification_rules",)
SCHEMA = live_schema("notification_rules")
LIST = QuerySpec.of(
    many("status", [s.value for s in RuleStatus], "any of these statuses"),
    *paging(notification_rules.RULE_SORTS, "created_at"),
)
ONE = QuerySpec.of()
DELIVERIES = deliveries_query("only the attempts of this notification (its message id)")
PATH = "/api/v1/projects/{project_id:uuid}/notification-rules"


class RulePage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[notification_rules.RuleRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None


@get(
    PATH,
    operation_id="listNotificationRules",
    tags=TAGS,
    operation_class=LIST.operation(),
    responses=views.LIST_ANSWERS,
    description="Needs `admin` on the project; channels name secrets, never show one.",
)
async def list_rules(request: Req, project_id: FromPath[UUID]) -> Response[RulePage]:
    query = LIST.parse(request.query_params.dict())
    reach = admin_reach(request, project_id)
    status = tuple(RuleStatus(s) for s in query.get("status", ()))
    page = page_of(query)
    return await views.page(
        request,
        query,
        VIEWS,
        RulePage,
        lambda conn: notification_rules.list_rules(
            conn, SCHEMA, project_ids=reach, status=status, page=page
        ),
    )


async def _visible(
    conn: Any, rule_id: UUID, reach: tuple[UUID, ...]
) -> notification_rules.RuleRow | None:
    return visible(await notification_rules.get_rule(conn, SCHEMA, rule_id), reach)


@get(
    PATH + "/{rule_id:uuid}",
    operation_id="getNotificationRule",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_rule(
    request: Req, project_id: FromPath[UUID], rule_id: FromPath[UUID]
) -> Response[notification_rules.RuleRow]:
    query = ONE.parse(request.query_params.dict())
    reach = admin_reach(request, project_id)
    read = lambda conn: _visible(conn, rule_id, reach)  # noqa: E731
    return await views.item(request, query, VIEWS, read, "notification rule")


@get(
    PATH + "/{rule_id:uuid}/deliveries",
    operation_id="listNotificationDeliveries",
    tags=TAGS,
    operation_class=DELIVERIES.operation(),
    responses=views.ITEM_ANSWERS,
    description=DELIVERIES_HELP,
)
async def list_deliveries(
    request: Req, project_id: FromPath[UUID], rule_id: FromPath[UUID]
) -> Response[DeliveryPage]:
    query = DELIVERIES.parse(request.query_params.dict())
    reach = admin_reach(request, project_id)
    return await attempts_page(
        request,
        query,
        VIEWS,
        rule_id,
        lambda conn: _visible(conn, rule_id, reach),
        "notification rule",
    )


ROUTES = [list_rules, get_rule, list_deliveries]
