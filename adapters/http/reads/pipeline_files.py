"""GET /api/v1/pipelines/{id}/file-reads: what each push found in the pipeline's file."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.params import QuerySpec, integer
from adapters.http.reads.pipelines import TAGS, VIEWS, visible_pipeline
from adapters.http.security import Req
from adapters.store.reader import read_stream_types
from domain.pipeline_file import FileOrigin, FileProblem

DEFINED = "PipelineVersionReadFromRepository"
REFUSED = "PipelineRepositoryFileRefused"
READS = QuerySpec.of(integer("limit", 1, 100, "how many, newest first (default 20)"))


class FileReadView(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    at: datetime
    outcome: Literal["defined", "refused"]
    origin: FileOrigin
    actor: str
    """Who pushed the commit the file was read at."""
    version: int | None = None
    """The version the file defined (its run used it); none when refused."""
    problem: FileProblem | None = None
    """Why the file was refused (no run started), with its line and column when known."""


class FileReadsPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[FileReadView]


@get(
    "/api/v1/pipelines/{pipeline_id:uuid}/file-reads",
    operation_id="listPipelineFileReads",
    tags=TAGS,
    operation_class=READS.operation(),
    responses=views.ITEM_ANSWERS,
    description="The pipeline's `repository_file` as pushes found it, newest first: the "
    "versions it defined (and the repository, sha and path each was read at) and the files "
    "refused, with the line and column of their problem.",
)
async def list_file_reads(request: Req, pipeline_id: FromPath[UUID]) -> Response[FileReadsPage]:
    query = READS.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))
    answer = await views.item(
        request,
        query,
        VIEWS,
        lambda conn: visible_pipeline(conn, pipeline_id, projects),
        "pipeline",
    )
    pool = request.app.state.services.store.pool
    found = await read_stream_types(
        pool, str(pipeline_id), (DEFINED, REFUSED), limit=query.get("limit", 20)
    )
    items = [_view(e.type, e.data, e.metadata.actor or "") for e in found]
    return Response(FileReadsPage(items=items), headers=answer.headers)


def _view(kind: str, data: dict[str, Any], actor: str) -> FileReadView:
    origin = msgspec.convert(data["origin"], FileOrigin)
    at = msgspec.convert(data["occurred_at"], datetime)
    if kind == DEFINED:
        return FileReadView(
            at=at, outcome="defined", origin=origin, actor=actor, version=data["version"]
        )
    problem = msgspec.convert(data["problem"], FileProblem)
    return FileReadView(at=at, outcome="refused", origin=origin, actor=actor, problem=problem)


ROUTES = [list_file_reads]
