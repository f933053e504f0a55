"""Pages from Jinja templates, escaped by default, served with the dashboard's strict CSP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from litestar import Request, Response
from litestar.enums import MediaType

from adapters.dashboard.session import COOKIE, CSP, csrf_token

_ENV = Environment(
    loader=PackageLoader("adapters.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _ms(value: int | None) -> str:
    if value is None:
        return ""
    return f"{value} ms" if value < 10_000 else f"{value / 1000:.1f} s"


_ENV.filters["when"] = _when
_ENV.filters["ms"] = _ms


def page(
    request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any
) -> Response[str]:
    """The template rendered for the signed-in caller (or for nobody, on the sign-in page)."""
    credential = request.cookies.get(COOKIE)
    user = request.scope.get("user")
    html = _ENV.get_template(template).render(
        user=user, csrf=csrf_token(credential) if credential and user else "", **context
    )
    return Response(
        html,
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )
