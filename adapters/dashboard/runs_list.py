"""The runs page: the API's filters and keyset paging, counts per status, refreshed live."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Request, Response, get

from adapters.dashboard.render import page
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.consistency import read_views
from adapters.http.reads.runs import RUNS, SCHEMA, VIEWS, runs_reader
from domain.run_statuses import RunStatus
from projections.rows import ident

STATUSES = [s.value for s in RunStatus]


async def status_counts(conn: Any, projects: tuple[UUID, ...] | None) -> dict[str, int]:
    """Runs per status within the caller's projects (the page's headline numbers)."""
    where = "" if projects is None else "WHERE project_id = ANY($1::uuid[])"
    args = () if projects is None else (list(projects),)
    rows = await conn.fetch(
        f"SELECT status, count(*) AS n FROM {ident(SCHEMA)}.runs {where} GROUP BY status", *args
    )
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


@get("/dashboard/runs", include_in_schema=False)
async def runs_page(request: Request[Any, Any, Any]) -> Response[str]:
    params = request.query_params.dict()
    fragment = params.pop("fragment", None) is not None
    query = RUNS.parse(params)
    projects = project_ids(project_filter(request.user, query.get("project_id")))
    read_page = runs_reader(request.user, query)

    async def read(conn: Any) -> tuple[Any, dict[str, int]]:
        return await read_page(conn), await status_counts(conn, projects)

    position, (found, counts) = await read_views(request, query, VIEWS, read)
    kept = {k: v for k, v in params.items() if k != "cursor"}
    next_url = None
    if found.next_cursor:
        next_url = "/dashboard/runs?" + urlencode({**kept, "cursor": found.next_cursor}, True)
    return page(
        request,
        "runs_live.html" if fragment else "runs.html",
        runs=found.items,
        counts=counts,
        position=position,
        next_url=next_url,
        filters={k: v[0] for k, v in params.items() if v},
        chosen=set(params.get("status", [])),
        statuses=STATUSES,
        watch=_watch(request.user.project_id),
        fragment_url="/dashboard/runs?" + urlencode({**params, "fragment": "1"}, True),
    )


def _watch(project: UUID | None) -> str:
    """The gateway path whose events can change this page."""
    return "/ws/system" if project is None else f"/ws/project/{project}"
