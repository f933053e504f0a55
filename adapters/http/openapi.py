"""The OpenAPI document: the credentials every protected operation needs, and errors declared
as what they are sent as (`application/problem+json`), on every operation at once."""

from __future__ import annotations

import re
from importlib.metadata import version

from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute

from adapters.http.answers import PROBLEM
from adapters.http.security import API_KEY_HEADER, EXCLUDED_FROM_AUTH

SECURITY_SCHEMES = {
    "apiKey": SecurityScheme(
        type="apiKey",
        name=API_KEY_HEADER,
        security_scheme_in="header",
        description="An API key (`flk_…`), as `flowledger keys create` or the API issues it.",
    ),
    "bearer": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="An HS256 JWT with `sub`, `exp`, `iat`, `scopes` and optionally `project`.",
    ),
}
EITHER_CREDENTIAL: list[SecurityRequirement] = [{"apiKey": []}, {"bearer": []}]
"""Two requirements, not one with both: either credential is enough (both at once is a 401)."""
_PUBLIC = [re.compile(pattern) for pattern in EXCLUDED_FROM_AUTH]


# The viewer's files come from the package (PROVENANCE.md there), so /docs works offline;
# no web fonts and no AI agent, which the viewer would otherwise fetch from its vendor.
DOCS_VIEWER = ScalarRenderPlugin(
    js_url="/docs/assets/scalar.js",
    css_url="/docs/assets/scalar.css",
    favicon="",
    options={"withDefaultFonts": False, "agent": {"disabled": True}},
)


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="flowledger",
        version=version("flowledger"),
        path="/docs",
        render_plugins=[DOCS_VIEWER],
        components=Components(security_schemes=dict(SECURITY_SCHEMES)),
    )


def is_public(path: str, handler: HTTPRouteHandler) -> bool:
    """Served without credentials: the authentication middleware's own exclusions."""
    return bool(handler.opt.get("exclude_from_auth")) or any(p.search(path) for p in _PUBLIC)


class OperationDeclarations(ReceiveRoutePlugin):
    """Completes each operation as its route is registered, so no route can forget it:

    - `security` on every operation the authentication middleware guards;
    - a 500 problem on every operation, a 400 on every API and webhook operation (litestar's
      own 400 says `application/json` and a shape never sent), a 415 wherever a body is read.

    What a route declares itself wins.
    """

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        path = route.path_format or "/"
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            if not is_public(path, handler):
                handler.security = EITHER_CREDENTIAL
            handler.responses = {**_defaults(path, handler), **(handler.responses or {})}


def _defaults(path: str, handler: HTTPRouteHandler) -> dict[int, ResponseSpec]:
    found = {500: PROBLEM}
    if path.startswith(("/api/", "/webhooks/")):
        found[400] = PROBLEM
    if "data" in handler.parsed_fn_signature.parameters:
        found[415] = PROBLEM
    return found
