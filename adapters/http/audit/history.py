"""GET /api/v1/pipeline-runs/{id}/history: every event of a run, from the event store."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.audit.envelopes import AuditEvent
from adapters.audit.reads import batches, read_page, stream_info, stream_reader
from adapters.http.audit.common import (
    FORMAT,
    TAGS,
    decode_cursor,
    encode_cursor,
    ndjson,
    reachable,
    require_reader,
)
from adapters.http.reads import views
from adapters.http.reads.params import DEFAULT_LIMIT, MAX_LIMIT, QuerySpec, integer, invalid, text
from adapters.http.security import Req

HISTORY = QuerySpec(
    (
        integer("limit", 1, MAX_LIMIT, f"page size, default {DEFAULT_LIMIT} (json only)"),
        text("cursor", "the previous page's next_cursor"),
        FORMAT,
    )
)


class HistoryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AuditEvent]
    next_cursor: str | None
    """Given when more events follow: pass it back as `cursor`."""
    limit: int
    stream_version: int
    """The run's last version when the page was read."""


@get(
    "/api/v1/pipeline-runs/{run_id:uuid}/history",
    operation_id="getRunHistory",
    tags=TAGS,
    operation_class=HISTORY.operation(),
    responses=views.ITEM_ANSWERS,
    description=(
        "Every event of the run in order, read from the event store (not a view): its "
        "lifecycle, its steps and its log chunks (`LogChunkAppended`, `LogTruncated`: the "
        "run's log stream is part of its own event stream). Each item is the full envelope "
        "with its metadata (actor, correlation and causation ids, trace context), the hash "
        "chaining it to the previous event, `data` upcast to the current `schema_version` "
        "(`stored_schema_version`: as stored), and `caused_by_delivery` when a webhook "
        "delivery caused it. `format=ndjson` streams the whole history (from `cursor`, if "
        "given) as application/x-ndjson, as it stood when the request began."
    ),
)
async def get_run_history(request: Req, run_id: FromPath[UUID]) -> Response[HistoryPage]:
    query = HISTORY.parse(request.query_params.dict())
    require_reader(request.user)
    after = decode_cursor(query.get("cursor"))
    pool = request.app.state.services.store.pool
    info = reachable(request.user, await stream_info(pool, str(run_id)), "run", "run", run_id)
    read = stream_reader(str(run_id), info.head)
    if query.get("format") == "ndjson":
        if "limit" in query.values:
            raise invalid("limit", "limit pages the json format; ndjson streams everything")
        return ndjson(batches(pool, read, "version", after), f"run-{run_id}-history.ndjson")
    events = await read_page(pool, read, after, query.limit + 1)
    items = events[: query.limit]
    more = len(events) > query.limit
    page = HistoryPage(
        items=items,
        next_cursor=encode_cursor(items[-1].version) if more else None,
        limit=query.limit,
        stream_version=info.head,
    )
    return Response(page)


ROUTES = [get_run_history]
