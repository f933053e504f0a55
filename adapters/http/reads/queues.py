"""Queues (`read`): step jobs waiting for a runner, per label, and the runners that could take
them."""

from __future__ import annotations

import msgspec
from litestar import Response, get

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import QuerySpec
from adapters.http.security import Req
from projections import queues
from projections.projection import live_schema

SCHEMA = live_schema(queues.NAME)
RUNNERS_SCHEMA = live_schema("runners")
VIEWS = (queues.NAME, "runners")
QUEUES = QuerySpec.of()


class QueueList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[queues.Queue]
    position: int


@get(
    "/api/v1/queues",
    operation_id="listQueues",
    tags=["runners"],
    operation_class=QUEUES.operation(),
    responses=views.LIST_ANSWERS,
    description="Step jobs dispatched and not yet started, grouped by the runner label they "
    "wait for (oldest first): how many, how many were dispatched when no live runner had the "
    "label (`waiting_for_runner`), the oldest jobs with their `queue_timeout_s`, and the "
    "registered, live runners with the label. A project-bound caller sees its project's jobs.",
)
async def list_queues(request: Req) -> Response[QueueList]:
    query = QUEUES.parse(request.query_params.dict())
    reach = project_ids(project_filter(request.user, None))
    position, found = await read_views(
        request,
        query,
        VIEWS,
        lambda conn: queues.list_queues(conn, SCHEMA, RUNNERS_SCHEMA, project_ids=reach),
    )
    return Response(
        QueueList(items=found, position=position), headers={POSITION_HEADER: str(position)}
    )


ROUTES = [list_queues]
