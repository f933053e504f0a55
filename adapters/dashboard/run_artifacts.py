"""A run's artifacts on its page: name, step, size, sha256, retention, and a download link
that streams the bytes through the dashboard's session (the API route wants a key header)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Stream

from adapters.http.reads.artifacts import artifact_response
from adapters.http.reads.consistency import read_views
from adapters.http.reads.params import QuerySpec
from adapters.http.reads.run_view import run_artifact_summaries

ONE = QuerySpec.of()
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


async def artifacts_for_page(request: Request[Any, Any, Any], run_id: UUID) -> list[dict[str, Any]]:
    """The run's artifacts as its page lists them (the caller may see the run: checked before)."""
    _, found = await read_views(
        request, ONE.parse({}), ("artifacts",), lambda conn: run_artifact_summaries(conn, run_id)
    )
    return [
        {
            "name": a.name,
            "step": a.step,
            "attempt": a.attempt,
            "format": a.format,
            "size": a.size,
            "size_text": human_size(a.size),
            "sha256": a.sha256,
            "retention_days": a.retention_days,
            "expires_at": a.expires_at,
            "deleted_at": a.deleted_at,
            "deleted_reason": a.deleted_reason,
            "href": None
            if a.deleted_at
            else f"/dashboard/runs/{run_id}/artifacts/{quote(a.name, safe='')}",
        }
        for a in found
    ]


@get("/dashboard/runs/{run_id:uuid}/artifacts/{name:str}", include_in_schema=False)
async def download(
    request: Request[Any, Any, Any], run_id: FromPath[UUID], name: FromPath[str]
) -> Stream:
    """The artifact's bytes, as the API's download route answers them for this caller."""
    return await artifact_response(request, run_id, name)
