"""The dashboard's session: the credential in an HttpOnly cookie, CSRF tokens, its strict CSP.

The page holds no credential a script can read: the API key or JWT travels only in a
`SameSite=Strict` HttpOnly cookie, and every request re-checks it (a revoked key is out at
once). State-changing calls carry a CSRF token derived from the credential, which a page of
another origin can neither read nor compute (double submit: cookie plus header or form field).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)

from adapters.http.security import authenticate_token

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection

COOKIE = "flowledger_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Only this origin's scripts, styles, images and sockets; no inline script or style at all.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
FORM_PATHS = frozenset({"/dashboard/sign-out"})
PUBLIC = [r"^/dashboard/sign-in$", r"^/dashboard/static/"]


def csrf_token(credential: str) -> str:
    """The page's CSRF token: a digest of the credential, useless to anyone without it."""
    return hashlib.sha256(b"flowledger-dashboard-csrf\0" + credential.encode()).hexdigest()


def check_csrf(request: Request[Any, Any, Any], presented: str | None) -> None:
    """Refuses (403) a state-changing call without the session's token or from another site."""
    credential = request.cookies.get(COOKIE, "")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise PermissionDeniedException(detail="cross-site request refused")
    expected = csrf_token(credential) if credential else ""
    if not presented or not expected or not hmac.compare_digest(presented, expected):
        raise PermissionDeniedException(detail="missing or wrong CSRF token")


class DashboardSession(AbstractAuthenticationMiddleware):
    """Sets `request.user` from the session cookie; without one the page redirects to sign-in.

    It also checks the CSRF header of every state-changing call, so no handler can forget it.
    """

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        credential = connection.cookies.get(COOKIE)
        if not credential:
            raise NotAuthorizedException(detail="sign in first")
        principal = await authenticate_token(connection.app.state, credential)
        method = connection.scope.get("method", "GET")
        if method not in SAFE_METHODS and not _is_form(connection):
            check_csrf(connection, connection.headers.get(CSRF_HEADER))  # type: ignore[arg-type]
        return AuthenticationResult(principal, credential)


def _is_form(connection: ASGIConnection) -> bool:
    # Sign-out is a plain form (it works without script): its handler checks the token field
    # once the body is parsed. Every other state-changing call needs the header.
    return connection.scope.get("path") in FORM_PATHS and connection.headers.get(
        "content-type", ""
    ).startswith("application/x-www-form-urlencoded")
