"""A project's outbound subscriptions (from their view) and each one's delivery attempts
(from the deliverer's log)."""

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
from domain.subscription import SubscriptionStatus
from projections import subscriptions
from projections.projection import live_schema

TAGS = ["subscriptions"]
VIEWS = ("subscriptions",)
SCHEMA = live_schema("subscriptions")
LIST = QuerySpec.of(
    many("status", [s.value for s in SubscriptionStatus], "any of these statuses"),
    *paging(subscriptions.SUBSCRIPTION_SORTS, "created_at"),
)
ONE = QuerySpec.of()
DELIVERIES = deliveries_query("only the attempts of this delivery (its webhook-id)")
PATH = "/api/v1/projects/{project_id:uuid}/subscriptions"


class SubscriptionPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[subscriptions.SubscriptionRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None


@get(
    PATH,
    operation_id="listSubscriptions",
    tags=TAGS,
    operation_class=LIST.operation(),
    responses=views.LIST_ANSWERS,
    description="Needs `admin` on the project; never shows a secret.",
)
async def list_subscriptions(
    request: Req, project_id: FromPath[UUID]
) -> Response[SubscriptionPage]:
    query = LIST.parse(request.query_params.dict())
    reach = admin_reach(request, project_id)
    status = tuple(SubscriptionStatus(s) for s in query.get("status", ()))
    page = page_of(query)
    return await views.page(
        request,
        query,
        VIEWS,
        SubscriptionPage,
        lambda conn: subscriptions.list_subscriptions(
            conn, SCHEMA, project_ids=reach, status=status, page=page
        ),
    )


async def _visible(
    conn: Any, subscription_id: UUID, reach: tuple[UUID, ...]
) -> subscriptions.SubscriptionRow | None:
    return visible(await subscriptions.get_subscription(conn, SCHEMA, subscription_id), reach)


@get(
    PATH + "/{subscription_id:uuid}",
    operation_id="getSubscription",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
)
async def get_subscription(
    request: Req, project_id: FromPath[UUID], subscription_id: FromPath[UUID]
) -> Response[subscriptions.SubscriptionRow]:
    query = ONE.parse(request.query_params.dict())
    reach = admin_reach(request, project_id)
    read = lambda conn: _visible(conn, subscription_id, reach)  # noqa: E731
    return await views.item(request, query, VIEWS, read, "subscription")


@get(
    PATH + "/{subscription_id:uuid}/deliveries",
    operation_id="listSubscriptionDeliveries",
    tags=TAGS,
    operation_class=DELIVERIES.operation(),
    responses=views.ITEM_ANSWERS,
    description=DELIVERIES_HELP,
)
async def list_deliveries(
    request: Req, project_id: FromPath[UUID], subscription_id: FromPath[UUID]
) -> Response[DeliveryPage]:
    query = DELIVERIES.parse(request.query_params.dict())
    reach = admin_reach(request, project_id)
    return await attempts_page(
        request,
        query,
        VIEWS,
        subscription_id,
        lambda conn: _visible(conn, subscription_id, reach),
        "subscription",
    )


ROUTES = [list_subscriptions, get_subscription, list_deliveries]
