"""The service's status: its version, the event head, and how far each view has got.

Global by design, for every reader: read-your-writes needs the positions, which are one
sequence over all projects and name none. A project-bound caller does not get the views'
errors and owners, which may name another project's stream or a host.
"""

from __future__ import annotations

from importlib.metadata import version

import msgspec
from litestar import Response, get
from msgspec.structs import replace

from adapters.http.reads.access import project_filter
from adapters.http.reads.consistency import POSITION_HEADER, caught_up, wanted_position
from adapters.http.reads.params import QuerySpec
from adapters.http.reads.views import LIST_ANSWERS
from adapters.http.security import Req
from projections import catalog
from projections.status import ProjectionStatus, projection_status

STATUS = QuerySpec.of()


class ServiceStatus(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    version: str
    head_position: int
    position: int
    """The least position of the views: every view has applied at least this far."""
    projections: list[ProjectionStatus]


@get(
    "/api/v1/status",
    operation_id="getServiceStatus",
    tags=["status"],
    operation_class=STATUS.operation(),
    responses=LIST_ANSWERS,
)
async def service_status(request: Req) -> Response[ServiceStatus]:
    query = STATUS.parse(request.query_params.dict())
    project_filter(request.user, None)
    pool = request.app.state.services.store.pool
    served = {projection.name for projection in catalog.ALL}
    wanted = wanted_position(request, query)
    if wanted is not None:
        await caught_up(pool, sorted(served), wanted)
    views = await projection_status(pool)
    if request.user.project_id is not None:
        # Positions are one global sequence every reader waits on, and name nothing; a
        # view's error and owner may name another project's stream, or a host.
        views = [replace(v, error=None, error_position=None, owner=None) for v in views]
    head = max((v.head for v in views), default=0)
    if not views:
        head = await request.app.state.services.store.head_position()
    # Only the views this service reads count: a checkpoint row may outlive its projection.
    position = min((v.position for v in views if v.name in served), default=0)
    body = ServiceStatus(
        service="flowledger",
        version=version("flowledger"),
        head_position=head,
        position=position,
        projections=views,
    )
    return Response(body, headers={POSITION_HEADER: str(position)})


ROUTES = [service_status]
