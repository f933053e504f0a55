"""The global event feed and causation traces, for auditors (`audit` scope on every project)."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.audit.envelopes import AuditEvent
from adapters.audit.reads import FeedFilters, feed_reader, read_page
from adapters.audit.trace import MAX_EFFECTS, Trace, trace
from adapters.http.audit.common import TAGS, require_auditor
from adapters.http.reads import views
from adapters.http.reads.params import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Query,
    QuerySpec,
    instant,
    integer,
    many,
)
from adapters.http.security import Req
from adapters.store.reader import head as head_position
from domain.registry import default_registry

FEED = QuerySpec(
    (
        integer("after", 0, description="only events after this position (default 0)"),
        integer("limit", 1, MAX_LIMIT, f"page size, default {DEFAULT_LIMIT}"),
        many("stream_type", sorted(default_registry().stream_types()), "any of these"),
        many("type", description="any of these event types; repeat it or give a comma list"),
        instant("recorded_after", "recorded at or after this moment"),
        instant("recorded_before", "recorded before this moment"),
    )
)
ONE = QuerySpec(())


class FeedPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AuditEvent]
    next_after: int
    """Pass it back as `after`: everything up to it that matches was in this page or earlier."""
    more: bool
    """The page is full: ask again at once. Otherwise the feed was read up to `head`."""
    limit: int
    head: int
    """The last position committed when the page was read."""


def feed_filters(query: Query) -> FeedFilters:
    return FeedFilters(
        stream_types=query.get("stream_type", ()),
        types=query.get("type", ()),
        recorded_after=query.get("recorded_after"),
        recorded_before=query.get("recorded_before"),
    )


@get(
    "/api/v1/events",
    operation_id="listEvents",
    tags=TAGS,
    operation_class=FEED.operation(),
    responses=views.LIST_ANSWERS,
    description=(
        "The global event feed in position order, for auditors and for bootstrapping "
        "downstream systems: envelopes as in a run's history (data upcast to the current "
        "schema). Positions are gap-free in commit order, so following `next_after` never "
        "skips an event. Needs the `audit` scope on every project. For bulk export: "
        "`flowledger export --after N`."
    ),
)
async def list_events(request: Req) -> Response[FeedPage]:
    query = FEED.parse(request.query_params.dict())
    require_auditor(request.user)
    pool = request.app.state.services.store.pool
    after = query.get("after", 0)
    head = await head_position(pool)
    items = await read_page(pool, feed_reader(feed_filters(query), head), after, query.limit)
    more = len(items) == query.limit
    next_after = items[-1].position if more else max(after, head)
    return Response(
        FeedPage(items=items, next_after=next_after, more=more, limit=query.limit, head=head)
    )


@get(
    "/api/v1/events/{event_id:uuid}/trace",
    operation_id="traceEvent",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
    description=(
        "Where an event came from and what it led to. `causes`: `metadata.causation_id` "
        "followed back while it names a stored event; `origin`: the webhook delivery at the "
        "root (when the root is a `WebhookReceived`) or else the command that wrote the root "
        "(actor, correlation id, idempotency key, trace context, and a client's "
        "`X-Causation-Id` that names no event). `written_with`: the other events the same "
        "command appended (same stream, `recorded_at` and metadata). `effects`: every event "
        "whose `causation_id` is this event's id, and theirs, transitively, in position "
        f"order (at most {MAX_EFFECTS}); sharing a correlation id alone is not causing. "
        "Needs the `audit` scope on every project."
    ),
)
async def trace_event(request: Req, event_id: FromPath[UUID]) -> Response[Trace]:
    ONE.parse(request.query_params.dict())
    require_auditor(request.user)
    async with request.app.state.services.store.pool.acquire() as conn:
        return Response(await trace(conn, event_id))


ROUTES = [list_events, trace_event]
