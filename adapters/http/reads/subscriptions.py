"""A project's outbound subscriptions (from their view) and each one's delivery attempts
(from the deliverer's log)."""

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
DELIVERIES = QuerySpec.of(
    integer("after", 0, MAX_INTEGER, "attempts after this attempt id (the last page's)"),
    integer("limit", 1, MAX_LIMIT, "page size, default 100"),
    text("message_id", "only the attempts of this delivery (its webhook-id)"),
    choice("outcome", ("delivered", "retrying", "parked"), "only attempts with this outcome"),
)
PATH = "/api/v1/projects/{project_id:uuid}/subscriptions"


class SubscriptionPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[subscriptions.SubscriptionRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Attempt]
    """Every HTTP request made for the subscription, oldest first."""
    next_after: int | None
    """Pass as `after` for the next page; None when this page is the last."""


def _reach(request: Req, project_id: UUID) -> tuple[UUID, ...]:
    project_filter(request.user, project_id, "admin")
    return (project_id,)


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
    reach = _reach(request, project_id)
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
    reach = _reach(request, project_id)
    read = lambda conn: _visible(conn, subscription_id, reach)  # noqa: E731
    return await views.item(request, query, VIEWS, read, "subscription")


@get(
    PATH + "/{subscription_id:uuid}/deliveries",
    operation_id="listSubscriptionDeliveries",
    tags=TAGS,
    operation_class=DELIVERIES.operation(),
    responses=views.ITEM_ANSWERS,
    description="Every attempt: when, which event (`message_id`, `event_position`), the "
    "receiver's status or the error, how long it took, and its outcome (`delivered`, "
    "`retrying`, `parked`). Re-send one with `POST …/deliveries/resend`.",
)
async def list_deliveries(
    request: Req, project_id: FromPath[UUID], subscription_id: FromPath[UUID]
) -> Response[DeliveryPage]:
    query = DELIVERIES.parse(request.query_params.dict())
    reach = _reach(request, project_id)
    limit = query.get("limit", 100)

    async def read(conn: Any) -> DeliveryPage | None:
        if await _visible(conn, subscription_id, reach) is None:
            return None
        found = await list_attempts(
            conn,
            subscription_id,
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
        raise views.not_found("subscription")
    return Response(found, headers={POSITION_HEADER: str(position)})


ROUTES = [list_subscriptions, get_subscription, list_deliveries]
