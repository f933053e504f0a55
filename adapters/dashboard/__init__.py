"""The dashboard: server-rendered pages of runs, logs and graphs, live over the gateway.

`routes(tickets)` is what the composition root hands `create_app`; `tickets` is shared with
the WebSocket routes' authenticator, so a page's socket can present a ticket instead of the
HttpOnly credential.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from adapters.dashboard import (
    analytics_page,
    audit_page,
    operations,
    pipelines_pages,
    run_artifacts,
    run_page,
    runs_list,
    signin,
)
from adapters.dashboard.session import PUBLIC, DashboardSession
from adapters.dashboard.tickets import Tickets

STATIC = Path(__file__).parent / "static"

__all__ = ["Tickets", "routes"]


def routes() -> list[ControllerRouterHandler]:
    pages = Router(
        path="/",
        route_handlers=[
            signin.sign_in_page,
            signin.sign_in,
            signin.sign_out,
            signin.ticket,
            runs_list.runs_page,
            run_page.run_page,
            run_page.run_live,
            run_page.run_log_lines,
            run_page.run_graph,
            run_page.cancel,
            run_page.retry,
            run_page.decide,
            audit_page.audit_page,
            audit_page.export,
            operations.operations_page,
            pipelines_pages.pipelines_page,
            pipelines_pages.pipeline_page,
            pipelines_pages.pipeline_graph,
            analytics_page.analytics_page,
            run_artifacts.download,
        ],
        middleware=[DefineMiddleware(DashboardSession, exclude=PUBLIC)],
        exception_handlers={NotAuthorizedException: signin.to_sign_in},
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/dashboard/static", directories=[STATIC], include_in_schema=False
    )
    return [pages, static]
