"""Signing in (an API key or a JWT, checked, then kept in the session cookie) and out."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect

from adapters.dashboard.render import page
from adapters.dashboard.session import COOKIE, CSP, check_csrf
from adapters.dashboard.tickets import Tickets
from adapters.http.security import authenticate_token

HOME = "/dashboard/runs"
SIGN_IN = "/dashboard/sign-in"
SESSION_S = 12 * 3600


class SignIn(msgspec.Struct, frozen=True):
    token: str = ""


class SignOut(msgspec.Struct, frozen=True):
    csrf: str = ""


Form = Body(media_type=RequestEncodingType.URL_ENCODED)


@get(SIGN_IN, include_in_schema=False)
async def sign_in_page(request: Request[Any, Any, Any]) -> Response[str]:
    return page(request, "sign_in.html", error=None)


@post(SIGN_IN, include_in_schema=False, status_code=303)
async def sign_in(request: Request[Any, Any, Any], data: Annotated[SignIn, Form]) -> Response[Any]:
    # Login CSRF: a form posted from another site would sign the victim in as the attacker.
    if request.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        raise PermissionDeniedException(detail="cross-site sign-in refused")
    token = data.token.strip()
    try:
        await authenticate_token(request.app.state, token)
    except NotAuthorizedException as exc:
        return page(request, "sign_in.html", status_code=401, error=exc.detail)
    answer = Redirect(HOME, status_code=303, headers={"Content-Security-Policy": CSP})
    answer.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_S,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


@post("/dashboard/sign-out", include_in_schema=False, status_code=303)
async def sign_out(
    request: Request[Any, Any, Any], data: Annotated[SignOut, Form]
) -> Response[Any]:
    check_csrf(request, data.csrf)
    answer = Redirect(SIGN_IN, status_code=303)
    answer.delete_cookie(COOKIE, path="/dashboard")
    return answer


@post("/dashboard/ticket", include_in_schema=False, status_code=201)
async def ticket(request: Request[Any, Any, Any]) -> dict[str, str]:
    """A WebSocket ticket for the page's socket (the session middleware checked CSRF)."""
    tickets: Tickets = request.app.state.dashboard_tickets
    return {"ticket": tickets.issue(request.cookies[COOKIE])}


def to_sign_in(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Without a (valid) session: a page redirects to sign-in, a script's call gets 401."""
    if request.method == "GET":
        answer = Redirect(SIGN_IN, status_code=303)
        answer.delete_cookie(COOKIE, path="/dashboard")
        return answer
    return Response({"detail": str(getattr(exc, "detail", exc))}, status_code=401)
