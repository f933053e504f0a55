"""AI analytics: token usage and cost per pipeline, model and day, and failures by kind, as
`/api/v1/analytics/usage` and `/errors` answer them, for the caller's projects."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get

from adapters.dashboard.render import page
from adapters.http.reads.access import project_filter, project_ids
from adapters.http.reads.consistency import read_consistent
from commands.context import Principal
from projections import usage
from projections.projection import live_schema
from projections.rows import ident

DAYS = (1, 7, 30, 90, 365)
ERRORS_SHOWN = 50


def _days(raw: str | None) -> int:
    """The window asked for, if it is one the page offers; 30 days otherwise."""
    return int(raw) if raw in {str(d) for d in DAYS} else 30


async def pipeline_names(conn: Any, ids: set[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch(
        f"SELECT id, name FROM {ident(live_schema('pipelines'))}.pipelines "
        "WHERE id = ANY($1::uuid[])",
        list(ids),
    )
    return {row["id"]: row["name"] for row in rows}


@get("/dashboard/analytics", include_in_schema=False)
async def analytics_page(request: Request[Any, Any, Any]) -> Response[str]:
    principal: Principal = request.user
    principal.require("read", principal.project_id)
    reach = project_ids(project_filter(principal, None))
    days = _days(request.query_params.get("days"))
    schema = live_schema("runs")

    async def read(conn: Any) -> dict[str, Any]:
        used = await usage.usage(conn, schema, project_ids=reach, days=days)
        failed = await usage.errors(conn, schema, project_ids=reach, days=days, limit=ERRORS_SHOWN)
        names = await pipeline_names(conn, {row.pipeline_id for row in used})
        return {"usage": used, "errors": failed, "names": names}

    pool = request.app.state.services.store.pool
    position, found = await read_consistent(pool, ("runs", "pipelines"), read, wanted=None)
    return page(
        request,
        "analytics.html",
        usage=found["usage"],
        totals=_totals(found["usage"]),
        errors=found["errors"],
        names=found["names"],
        days=days,
        choices=DAYS,
        position=position,
    )


def _totals(rows: list[usage.UsageRow]) -> list[dict[str, Any]]:
    """Per model (with its provider and currency): the window's sums, costliest first."""
    sums: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row.model, row.provider, row.currency)
        total = sums.setdefault(key, {"model": row.model, "provider": row.provider,
                                      "currency": row.currency, "steps": 0, "input_tokens": 0.0,
                                      "output_tokens": 0.0, "cost": 0.0})  # fmt: skip
        for field in ("steps", "input_tokens", "output_tokens", "cost"):
            total[field] += getattr(row, field)
    return sorted(sums.values(), key=lambda t: (-t["cost"], t["model"]))
