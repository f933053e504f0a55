"""Webhook deliveries as the view shows them: what came in, and which runs it started or why not."""

from __future__ import annotations

from typing import Any, get_args
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids, visible
from adapters.http.reads.params import (
    QuerySpec,
    choice,
    many,
    page_of,
    paging,
    ranges,
    text,
    uuid,
)
from adapters.http.security import Req
from domain.webhook_delivery import OUTCOMES
from domain.webhook_source import Kind
from projections import webhook_deliveries as deliveries
from projections.projection import live_schema

TAGS = ["webhook deliveries"]
VIEWS = ("webhook_deliveries",)
SCHEMA = live_schema("webhook_deliveries")
DELIVERIES = QuerySpec.of(
    uuid("project_id"),
    uuid("source_id"),
    choice("kind", get_args(Kind)),
    many("outcome", (*OUTCOMES, deliveries.PENDING), "any of these; `pending`: not processed yet"),
    many("event", description="any of these provider event kinds (`push`, `Pipeline Hook`)"),
    text("delivery_id", "the provider's delivery id"),
    *ranges("received"),
    *paging(deliveries.WEBHOOK_DELIVERY_SORTS, "received_at"),
)
ONE = QuerySpec.of()


class WebhookDeliveryPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    items: list[deliveries.WebhookDeliveryRow]
    next_cursor: str | None
    limit: int
    position: int
    total: int | None = None
    """Rows matching the filters, given when `count=true` was asked."""


@get(
    "/api/v1/webhook-deliveries",
    operation_id="listWebhookDeliveries",
    tags=TAGS,
    operation_class=DELIVERIES.operation(),
    responses=views.LIST_ANSWERS,
    description="Deliveries of the projects the caller may read, newest first by default.",
)
async def list_webhook_deliveries(request: Req) -> Response[WebhookDeliveryPage]:
    query = DELIVERIES.parse(request.query_params.dict())
    v = query.values
    filters = deliveries.DeliveryFilters(
        project_ids=project_ids(project_filter(request.user, v.get("project_id"))),
        source_id=v.get("source_id"),
        kind=v.get("kind"),
        outcomes=v.get("outcome", ()),
        events=v.get("event", ()),
        delivery_id=v.get("delivery_id"),
        **query.pick("received_after", "received_before"),
    )
    page = page_of(query)
    return await views.page(
        request,
        query,
        VIEWS,
        WebhookDeliveryPage,
        lambda conn: deliveries.list_webhook_deliveries(conn, SCHEMA, filters, page),
    )


@get(
    "/api/v1/webhook-deliveries/{delivery_id:uuid}",
    operation_id="getWebhookDelivery",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
    description="One delivery, by its stream id.",
)
async def get_webhook_delivery(
    request: Req, delivery_id: FromPath[UUID]
) -> Response[deliveries.WebhookDeliveryRow]:
    query = ONE.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None))

    async def read(conn: Any) -> deliveries.WebhookDeliveryRow | None:
        found = await deliveries.get_webhook_delivery(conn, SCHEMA, delivery_id)
        return visible(found, reach)

    return await views.item(request, query, VIEWS, read, "webhook delivery")


ROUTES = [list_webhook_deliveries, get_webhook_delivery]
