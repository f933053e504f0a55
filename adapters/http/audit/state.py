"""GET .../state?version=N|at=T: a run or a pipeline as it was, replayed from its stream."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from litestar import Response, get
from litestar.params import FromPath

from adapters.audit.errors import VersionBeyondHead
from adapters.audit.reads import stream_info
from adapters.audit.shapes import PipelineAsOf, RunAsOf, pipeline_as_of, run_as_of
from adapters.audit.state import AsOf, replay, version_at
from adapters.http.audit.common import TAGS, reachable, require_reader
from adapters.http.reads import views
from adapters.http.reads.params import QuerySpec, instant, integer, invalid
from adapters.http.security import Req
from domain.pipeline import Pipeline
from domain.run import Run

A = TypeVar("A", bound=Aggregate)

STATE = QuerySpec(
    (
        integer("version", 1, description="the state after this event of the stream"),
        instant("at", "the state at this moment (RFC 3339 with a timezone)"),
    )
)
_REPLAYED = (
    " Replayed from the event store by the domain aggregate itself, not read from a view. "
    "Give exactly one of `version` (422 otherwise) or `at`; 404 for an unknown id, a "
    "version past the last event, or a moment before the first. `as_of` names the last "
    "event included."
)


async def _as_of(
    request: Req, aggregate: type[A], stream_type: str, what: str, stream_id: UUID
) -> tuple[A, AsOf]:
    query = STATE.parse(request.query_params.dict())
    version: int | None = query.get("version")
    at: datetime | None = query.get("at")
    if (version is None) == (at is None):
        raise invalid("version", "give exactly one of version or at")
    require_reader(request.user)
    services = request.app.state.services
    pool = services.store.pool
    found = await stream_info(pool, str(stream_id))
    info = reachable(request.user, found, stream_type, what, stream_id)
    if version is None:
        version = await version_at(pool, what, stream_id, at)  # type: ignore[arg-type]
    elif version > info.head:
        raise VersionBeyondHead(what, version, info.head)
    return await replay(services.repository, pool, aggregate, what, stream_id, version)


@get(
    "/api/v1/pipeline-runs/{run_id:uuid}/state",
    operation_id="getRunStateAsOf",
    tags=TAGS,
    operation_class=STATE.operation(),
    responses=views.ITEM_ANSWERS,
    description="The run as it was after event `version`, or at the moment `at`." + _REPLAYED,
)
async def get_run_state(request: Req, run_id: FromPath[UUID]) -> Response[RunAsOf]:
    run, as_of = await _as_of(request, Run, "run", "run", run_id)
    return Response(run_as_of(run, as_of))


@get(
    "/api/v1/pipelines/{pipeline_id:uuid}/state",
    operation_id="getPipelineStateAsOf",
    tags=TAGS,
    operation_class=STATE.operation(),
    responses=views.ITEM_ANSWERS,
    description=(
        "The pipeline as it was after event `version`, or at the moment `at`: which "
        "definition version was current (e.g. when a run started) and whether it was active."
        + _REPLAYED
    ),
)
async def get_pipeline_state(request: Req, pipeline_id: FromPath[UUID]) -> Response[PipelineAsOf]:
    pipeline, as_of = await _as_of(request, Pipeline, "pipeline", "pipeline", pipeline_id)
    return Response(pipeline_as_of(pipeline, as_of))


ROUTES = [get_run_state, get_pipeline_state]
