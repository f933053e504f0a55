"""A project's notification rules (from their view) and each one's delivery attempts (from the
deliverer's log, the same as the outbound webhooks': a rule's attempts are kept under its id)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, visible
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import (
    MAX_INTEGER,
    MAX_LIMIT,
    QuerySpec,
    choice,
    integer,
    many,
    page_of,
    paging,
    text,
)
from adapters.http.security import Req
from adapters.outbound.attempts import Attempt, list_attempts
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
DELIVERIES = QuerySpec.of(
    integer("after", 0, MAX_INTEGER, "attempts after this attempt id (the last page's)"),
    integer("limit", 1, MAX_LIMIT, "page size, default 100"),
    text("message_id", "only the attempts of this notification (its message id)"),
    choice("outcome", ("delivered", "retrying", "parked"), "only attempts with this outcome"),
)
PATH = "/api/v1/projects/{project_id:uuid}/notification-rules"


class RulePage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[notification_rules.RuleRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Attempt]
    """Every send tried for the rule (HTTP request or SMTP session), oldest first."""
    next_after: int | None
    """Pass as `after` for the next page; None when this page is the last."""


def _reach(request: Req, project_id: UUID) -> tuple[UUID, ...]:
    project_filter(request.user, project_id, "admin")
    return (project_id,)


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
    reach = _reach(request, project_id)
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
    reach = _reach(request, project_id)
    read = lambda conn: _visible(conn, rule_id, reach)  # noqa: E731
    return await views.item(request, query, VIEWS, read, "notification rule")


@get(
    PATH + "/{rule_id:uuid}/deliveries",
    operation_id="listNotificationDeliveries",
    tags=TAGS,
    operation_class=DELIVERIES.operation(),
    responses=views.ITEM_ANSWERS,
    description="Every attempt: when, which event (`message_id`, `event_position`), the "
    "receiver's HTTP status (Slack) or SMTP reply code (e-mail) or the error, how long it "
    "took, and its outcome (`delivered`, `retrying`, `parked`). Re-send one with "
    "`POST …/deliveries/resend`.",
)
async def list_deliveries(
    request: Req, project_id: FromPath[UUID], rule_id: FromPath[UUID]
) -> Response[DeliveryPage]:
    query = DELIVERIES.parse(request.query_params.dict())
    reach = _reach(request, project_id)
    limit = query.get("limit", 100)

    async def read(conn: Any) -> DeliveryPage | None:
        if await _visible(conn, rule_id, reach) is None:
            return None
        found = await list_attempts(
            conn,
            rule_id,
            after_id=query.get("after", 0),
            limit=limit + 1,
            message_id=query.get("message_id"),
            outcome=query.get("outcome"),
        )
        more = len(found) > limit
        items = found[:limit]
        return DeliveryPage(items=items, next_after=items[-1].id if more else None)

    position, found = await read_views(request, query, VIEWS, read)
    if found is None:
        raise views.not_found("notification rule")
    return Response(found, headers={POSITION_HEADER: str(position)})


ROUTES = [list_rules, get_rule, list_deliveries]
