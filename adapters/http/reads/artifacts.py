"""A run's artifacts: the list (with sizes and sha256), and one streamed from the object store.

A download answers `Range: bytes=a-b`, `bytes=a-` and `bytes=-n` with 206 and `Content-Range`;
several ranges (`bytes=0-9,20-29`) with 206 and a `multipart/byteranges` body, each part with
its own `Content-Range` (RFC 9110 §14.6; `byte_ranges.py`). No satisfiable range, or a header
this server does not read, is a 416 naming the size. Nothing is held whole: the bytes come
from the object store a few chunks at a time, one part after another.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from litestar.response import Stream

from adapters.http.answers import PROBLEM
from adapters.http.problems import problem
from adapters.http.reads import views
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.byte_ranges import Unsatisfiable, multipart_parts, parse_ranges
from adapters.http.reads.consistency import POSITION_HEADER, read_views
from adapters.http.reads.params import QuerySpec
from adapters.http.reads.runs import visible_run
from adapters.http.security import Req
from adapters.streaming.objects import ARTIFACTS_BUCKET, Missing, bucket, read_object, stat
from domain.limits import KEY_MAX
from projections import artifacts
from projections.projection import live_schema

TAGS = ["artifacts"]
VIEWS = ("runs", "artifacts")
SCHEMA = live_schema("artifacts")
ONE = QuerySpec.of()
PARTIAL = ResponseSpec(
    data_container=bytes,
    media_type="application/octet-stream",
    description="The bytes of the one range asked for, with Content-Range; for several, a "
    "multipart/byteranges body (each part with its Content-Range)",
    generate_examples=False,
)
_MEDIA = {"file": "application/octet-stream", "tar": "application/x-tar"}


class RunArtifacts(msgspec.Struct, frozen=True, kw_only=True):
    items: list[artifacts.ArtifactRow]
    position: int


@get(
    "/api/v1/pipeline-runs/{run_id:uuid}/artifacts",
    operation_id="listRunArtifacts",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses=views.ITEM_ANSWERS,
    description="Every artifact the run stored: name, size, sha256, object key, expiry; "
    "deleted ones with when and why. No content. (Workspaces passed between runners are "
    "recorded in the run's events, not listed here.)",
)
async def list_artifacts(request: Req, run_id: FromPath[UUID]) -> Response[RunArtifacts]:
    query = ONE.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))

    async def read(conn: Any) -> list[artifacts.ArtifactRow] | None:
        if await visible_run(conn, run_id, projects) is None:
            return None
        return await artifacts.run_artifacts(conn, SCHEMA, run_id)

    position, found = await read_views(request, query, VIEWS, read)
    if found is None:
        raise views.not_found("run")
    body = RunArtifacts(items=found, position=position)
    return Response(body, headers={POSITION_HEADER: str(position)})


@get(
    "/api/v1/pipeline-runs/{run_id:uuid}/artifacts/{name:str}",
    operation_id="downloadRunArtifact",
    tags=TAGS,
    operation_class=ONE.operation(),
    responses={**views.ITEM_ANSWERS, 206: PARTIAL, 410: PROBLEM, 416: PROBLEM},
    description="The artifact's bytes (a `file` as it was, a `tar` as a tar stream), with "
    "`Range` support, several ranges too (206; 416 for a range it cannot serve). `ETag` is its "
    "sha256.",
)
async def download_artifact(request: Req, run_id: FromPath[UUID], name: FromPath[str]) -> Stream:
    return await artifact_response(request, run_id, name)


async def artifact_response(request: Req, run_id: UUID, name: str) -> Stream:
    """The artifact's bytes for whoever `request.user` is (an API caller or a dashboard
    session): 404 for a run or artifact the caller cannot see, 410 once deleted."""
    query = ONE.parse(request.query_params.dict())
    projects = project_ids(project_filter(request.user, None))
    if len(name) > KEY_MAX:
        raise _no_artifact(run_id, name[:KEY_MAX])

    async def read(conn: Any) -> artifacts.ArtifactRow | None:
        if await visible_run(conn, run_id, projects) is None:
            raise views.not_found("run")
        rows = await artifacts.run_artifacts(conn, SCHEMA, run_id)
        return next((r for r in rows if r.name == name), None)

    _, row = await read_views(request, query, VIEWS, read)
    if row is None:
        raise _no_artifact(run_id, name)
    if row.deleted_at is not None:
        raise problem(410, "artifact_deleted", "the artifact was deleted",
                      f"deleted {row.deleted_at.isoformat()}: {row.deleted_reason}")  # fmt: skip
    asked = request.headers.get("range")
    ranges = [(0, row.size)] if asked is None else _ranges(asked, row.size)
    js = request.app.state.nats.client.jetstream()
    try:
        await stat(await bucket(js, ARTIFACTS_BUCKET), row.object_key)
    except Missing:
        # Its deletion is not in the view yet: the object store already says so.
        raise problem(410, "artifact_deleted", "the artifact was deleted",
                      "it is no longer in the object store") from None  # fmt: skip
    filename = row.path.rsplit("/", 1)[-1] if row.format == "file" else f"{row.name}.tar"
    media = _MEDIA.get(row.format, "application/octet-stream")
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{row.sha256}"',
        "Content-Disposition": f'attachment; filename="{_quoted(filename)}"',
    }

    def piece(start: int, end: int) -> AsyncIterator[bytes]:
        return read_object(js, ARTIFACTS_BUCKET, row.object_key, start=start, end=end)

    if len(ranges) > 1:
        boundary = secrets.token_hex(16)
        parts, tail, length = multipart_parts(ranges, row.size, media, boundary)

        async def multipart() -> AsyncIterator[bytes]:
            for part in parts:  # one part after another: never more than a few chunks held
                yield part.head
                async for chunk in piece(part.start, part.end):
                    yield chunk
            yield tail

        headers["Content-Length"] = str(length)
        return Stream(multipart(), status_code=206, headers=headers,
                      media_type=f"multipart/byteranges; boundary={boundary}")  # fmt: skip
    ((start, end),) = ranges
    headers["Content-Length"] = str(end - start)
    if asked is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{row.size}"
    return Stream(piece(start, end), status_code=206 if asked is not None else 200,
                  media_type=media, headers=headers)  # fmt: skip


def _ranges(header: str, size: int) -> list[tuple[int, int]]:
    try:
        return parse_ranges(header, size)
    except Unsatisfiable as why:
        raise _unsatisfiable(size, str(why)) from None


def _no_artifact(run_id: UUID, name: str) -> Exception:
    return problem(404, "not_found", "no such artifact", f"run {run_id} has no artifact {name!r}")


def _unsatisfiable(size: int, detail: str) -> Exception:
    error = problem(416, "range_not_satisfiable", "range not satisfiable", detail, size=size)
    error.headers = {"Content-Range": f"bytes */{size}"}
    return error


def _quoted(filename: str) -> str:
    return "".join(c if c.isprintable() and c not in '"\\' else "_" for c in filename)


ROUTES = [list_artifacts, download_artifact]
