"""Operations: projections (position, lag, state, quarantine), runners, webhook sources and
their latest deliveries; each section only for a caller the API would answer."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from adapters.dashboard.render import page
from adapters.http.reads.access import project_ids
from adapters.http.reads.consistency import read_consistent
from commands.context import Principal
from projections import runners, webhook_deliveries, webhook_sources
from projections.paging import Page
from projections.projection import live_schema
from projections.status import projection_status

LATEST = 20


def _reach(principal: Principal) -> tuple[Any, ...] | None:
    return project_ids(principal.project_id)


@get("/dashboard/operations", include_in_schema=False)
async def operations_page(request: Request[Any, Any, Any]) -> Response[str]:
    principal: Principal = request.user
    pool = request.app.state.services.store.pool
    reach = _reach(principal)
    everything = principal.project_id is None
    # The API's rules: projections are global (read or audit over every project), sources
    # need admin, runners and deliveries need read.
    show_projections = everything and (
        principal.allows("read", None) or principal.allows("audit", None)
    )
    show_sources = principal.allows("admin", principal.project_id)
    principal.require("read", principal.project_id)

    async def read(conn: Any) -> dict[str, Any]:
        found: dict[str, Any] = {
            "runners": (
                await runners.list_runners(
                    conn, live_schema("runners"), project_ids=reach, page=Page(limit=100)
                )
            ).items,
            "deliveries": (
                await webhook_deliveries.list_webhook_deliveries(
                    conn,
                    live_schema("webhook_deliveries"),
                    webhook_deliveries.DeliveryFilters(project_ids=reach),
                    Page(limit=LATEST),
                )
            ).items,
        }
        if show_sources:
            found["sources"] = (
                await webhook_sources.list_webhook_sources(
                    conn, live_schema("webhook_sources"), project_ids=reach, page=Page(limit=100)
                )
            ).items
        return found

    names = ("runners", "webhook_deliveries", *(("webhook_sources",) if show_sources else ()))
    position, found = await read_consistent(pool, names, read, wanted=None)
    fragment = "fragment" in request.query_params
    return page(
        request,
        "operations_live.html" if fragment else "operations.html",
        projections=await projection_status(pool) if show_projections else None,
        runners=found["runners"],
        deliveries=found["deliveries"],
        sources=found.get("sources"),
        position=position,
        watch="/ws/system" if everything else f"/ws/project/{principal.project_id}",
    )
