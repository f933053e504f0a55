"""A run's audit: its event history as a timeline, its state as of any event, the hash chain.

Everything here is read from the event store (not a view), through the same functions as the
API's audit routes, and with the same rules: the caller's project only; verification for
auditors over every project, as GET /api/v1/audit/verify.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Stream

from adapters.audit.reads import batches, read_page, stream_info, stream_reader
from adapters.audit.shapes import run_as_of
from adapters.audit.state import replay
from adapters.audit.verify import verify_stream
from adapters.dashboard.render import page
from adapters.http.audit.common import ndjson, reachable, require_reader
from adapters.http.reads.params import QuerySpec, integer
from domain.run import Run

AUDIT = QuerySpec.of(integer("version", 1), integer("after", 0))
TIMELINE_PAGE = 500


@get("/dashboard/runs/{run_id:uuid}/audit", include_in_schema=False)
async def audit_page(request: Request[Any, Any, Any], run_id: FromPath[UUID]) -> Response[str]:
    query = AUDIT.parse(request.query_params.dict())
    require_reader(request.user)
    services = request.app.state.services
    pool = services.store.pool
    info = reachable(request.user, await stream_info(pool, str(run_id)), "run", "run", run_id)
    after = query.get("after", 0)
    events = await read_page(pool, stream_reader(str(run_id), info.head), after, TIMELINE_PAGE + 1)
    shown = events[:TIMELINE_PAGE]
    version = min(query.get("version", info.head), info.head)
    run, as_of = await replay(services.repository, pool, Run, "run", run_id, version)
    state = run_as_of(run, as_of)
    verified = None
    if request.user.allows("audit", None):
        async with pool.acquire() as conn:
            verified = await verify_stream(conn, str(run_id))
    return page(
        request,
        "audit.html",
        run_id=run_id,
        events=[_event(e) for e in shown],
        ids={str(e.event_id) for e in shown},
        more=shown[-1].version if len(events) > TIMELINE_PAGE else None,
        head=info.head,
        state=state,
        state_json=msgspec.json.format(msgspec.json.encode(state), indent=2).decode(),
        verified=verified,
    )


@get("/dashboard/runs/{run_id:uuid}/history.ndjson", include_in_schema=False)
async def export(request: Request[Any, Any, Any], run_id: FromPath[UUID]) -> Stream:
    """The run's whole history, one envelope a line: the API's `format=ndjson`, as a link."""
    require_reader(request.user)
    pool = request.app.state.services.store.pool
    info = reachable(request.user, await stream_info(pool, str(run_id)), "run", "run", run_id)
    read = stream_reader(str(run_id), info.head)
    return ndjson(batches(pool, read, "version", 0), f"run-{run_id}-history.ndjson")


def _event(event: Any) -> dict[str, Any]:
    data = msgspec.json.decode(event.data)
    # Log chunks are shown by size, not text: the run page shows the logs themselves.
    if event.type == "LogChunkAppended" and isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "text"} | {
            "text_chars": len(str(data.get("text", "")))
        }
    return {
        "id": str(event.event_id),
        "version": event.version,
        "position": event.position,
        "type": event.type,
        "at": event.recorded_at,
        "actor": event.metadata.actor,
        "causation": event.metadata.causation_id,
        "correlation": event.metadata.correlation_id,
        "delivery": event.caused_by_delivery,
        "hash": event.hash,
        "data": msgspec.json.encode(data).decode(),
    }
