"""Who may call the API and how often: API keys and JWTs, rate limits, CORS, security headers."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from uuid import UUID

import jwt
from litestar import Request
from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.middleware import DefineMiddleware
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware, get_remote_address
from litestar.security.jwt import Token

from adapters.http.key_credentials import (
    API_KEY_HEADER,
    EXPIRED,
    INVALID,
    MISSING,
    api_key_principal,
    checked_before,
    refuse,
    standing_key_principal,
)
from adapters.platform.secrets import parse_api_key
from adapters.platform.settings import Settings
from adapters.store.read_guards import noted_standing, standing_read
from commands.context import SCOPES, Principal

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.datastructures import State
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

JWT_ALGORITHM = "HS256"
ALL_PROJECTS = "*"
# The dashboard authenticates with its own session cookie (adapters/dashboard/session.py):
# the API itself never accepts a cookie, so no API route can be called cross-site.
EXCLUDED_FROM_AUTH = [
    r"^/$",
    r"^/ping$",
    r"^/health$",
    r"^/ready$",
    r"^/metrics$",
    r"^/docs(/|$)",
    r"^/api/v1/schemas/",
    r"^/webhooks(/|$)",
    r"^/dashboard(/|$)",
]
# Webhooks come in bursts from a provider's few addresses and carry no API key; a forged
# delivery costs one HMAC and writes nothing, so an address limit would only drop real ones.
EXCLUDED_FROM_RATE_LIMITS = [
    r"^/ping$",
    r"^/health$",
    r"^/ready$",
    r"^/metrics$",
    r"^/webhooks(/|$)",
]
Req = Request[Principal, Any, Any]
"""A request whose `user` is the authenticated caller: what every route handler receives."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The docs page runs the OpenAPI renderer's scripts and styles: only framing is forbidden there.
DOCS_CSP = "frame-ancestors 'none'"


class FlowledgerAuthentication(AbstractAuthenticationMiddleware):
    """Sets `request.user` to the caller's Principal from `X-API-Key` or a bearer JWT, or 401s."""

    def __init__(self, app: ASGIApp, exclude: str | list[str] | None = None) -> None:
        super().__init__(app, exclude=EXCLUDED_FROM_AUTH if exclude is None else exclude)

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        api_key = connection.headers.get(API_KEY_HEADER)
        authorization = connection.headers.get("Authorization")
        if api_key is not None and authorization is not None:
            raise refuse(INVALID, f"send either {API_KEY_HEADER} or Authorization, not both")
        if api_key is not None:
            return AuthenticationResult(await self._by_api_key(connection, api_key), "api_key")
        if authorization is not None:
            settings: Settings = connection.app.state.settings
            return AuthenticationResult(_by_jwt(authorization, settings.jwt_secret), "jwt")
        raise refuse(MISSING, f"credentials required: {API_KEY_HEADER} or Authorization: Bearer")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await super().__call__(scope, receive, send)  # a socket's key is read, as before
            return
        with standing_read() as standing:
            await super().__call__(scope, receive, checked_before(scope, receive, send, standing))

    async def _by_api_key(self, connection: ASGIConnection, token: str) -> Principal:
        repository = connection.app.state.services.repository
        standing = noted_standing()
        if standing is None:
            return await api_key_principal(repository, token)
        return await standing_key_principal(repository, token, standing)


async def authenticate_token(state: State, token: str) -> Principal:
    """The Principal of a bare API key or JWT (the WebSocket gateway's credentials), or 401."""
    if parse_api_key(token.strip()) is not None:
        return await api_key_principal(state.services.repository, token)
    return _by_jwt(f"Bearer {token}", state.settings.jwt_secret)


def _by_jwt(authorization: str, secret: str | None) -> Principal:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "bearer" or not encoded.strip():
        raise refuse(INVALID, "expected Authorization: Bearer <JWT>")
    # Name the real problem first: most bad tokens are no JWT at all, whatever the settings.
    if parse_api_key(encoded.strip()) is not None:
        raise refuse(
            INVALID, "this is an API key: send it as X-API-Key (or ?token= on a WebSocket)"
        )
    if encoded.strip().startswith("flk_"):
        raise refuse(INVALID, "malformed API key")
    if encoded.strip().count(".") != 2:
        raise refuse(
            INVALID,
            "neither an API key (flk_…) nor a JWT (three dot-separated parts): check the token",
        )
    if secret is None:
        raise refuse(INVALID, "bearer tokens are not accepted here (no JWT secret configured)")
    try:
        token = Token.decode(encoded.strip(), secret, JWT_ALGORITHM, require_claims=["sub", "exp"])
    except NotAuthorizedException as exc:
        if isinstance(exc.__cause__, jwt.ExpiredSignatureError):
            raise refuse(EXPIRED, "the bearer token has expired") from None
        raise refuse(INVALID, "invalid bearer token (HS256 with sub, exp and iat)") from None
    return _jwt_principal(token)


def _jwt_principal(token: Token) -> Principal:
    claims = token.extras
    scopes = claims.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s in SCOPES for s in scopes):
        raise refuse(INVALID, f"the scopes claim must be a list drawn from {sorted(SCOPES)}")
    project = claims.get("project", ALL_PROJECTS)
    try:
        project_id = None if project == ALL_PROJECTS else UUID(project)
    except (TypeError, ValueError, AttributeError):
        raise refuse(INVALID, "the project claim must be a UUID or '*'") from None
    name = claims.get("name", token.sub)
    if not isinstance(name, str) or not name.strip():
        raise refuse(INVALID, "the name claim must be a non-empty string")
    return Principal(
        id=f"jwt:{token.sub}", name=name.strip(), project_id=project_id, scopes=frozenset(scopes)
    )


class FlowledgerRateLimit(RateLimitMiddleware):
    """litestar's limiter; its 429 also carries `Retry-After` and the problem `code`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except TooManyRequestsException as exc:
            headers = dict(exc.headers or {})
            reset = headers.get(self.config.rate_limit_reset_header_key)
            if reset is None or "Retry-After" in headers:
                raise  # not a limiter's refusal, or an inner limiter already completed it
            headers["Retry-After"] = str(max(1, int(reset)))
            raise TooManyRequestsException(
                detail="rate limit exceeded; retry after the given seconds",
                headers=headers,
                extra={"code": "rate_limited"},
            ) from None


def presented_credential(request: Request[Any, Any, Any]) -> str:
    """A short digest of the credential as sent (unverified, so only hashed), else the address."""
    presented = request.headers.get(API_KEY_HEADER) or request.headers.get("Authorization")
    if not presented:
        return get_remote_address(request)
    return hashlib.sha256(presented.encode()).hexdigest()[:24]


def security_middleware(settings: Settings) -> list[DefineMiddleware]:
    """The rate limits, outermost first: per client address, then per presented credential.

    Limits live in each process's memory: with N workers a client may get up to N times them.
    """
    limits = [
        ("rate_limit_per_address", settings.rate_limit_per_address, get_remote_address),
        ("rate_limit_per_key", settings.rate_limit_per_key, presented_credential),
    ]
    return [
        RateLimitConfig(
            rate_limit=("minute", per_minute),
            exclude=EXCLUDED_FROM_RATE_LIMITS,
            identifier_for_request=identify,
            middleware_class=FlowledgerRateLimit,
            store=store,  # one store each, so the two limits never share a counter
        ).middleware
        for store, per_minute, identify in limits
        if per_minute > 0
    ]


async def security_headers(message: Message, scope: Scope) -> None:
    """A `before_send` hook, so that router 404s and 405s get the headers too, not just routes."""
    if message["type"] != "http.response.start":
        return
    message.setdefault("headers", [])
    headers = MutableScopeHeaders.from_message(message).headers
    path = scope.get("path", "")
    docs = path == "/docs" or path.startswith("/docs/")
    wanted = _RAW_HEADERS_DOCS if docs else _RAW_HEADERS_API
    if path.startswith("/api/"):
        wanted += _RAW_NO_STORE
    # One pass over what the answer set itself (a route's own header wins), not one per name.
    present = {bytes(name).lower() for name, _ in headers}
    headers.extend((name, value) for name, value in wanted if name not in present)


def _raw(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())


_RAW_HEADERS_API = _raw({**SECURITY_HEADERS, "Content-Security-Policy": API_CSP})
_RAW_HEADERS_DOCS = _raw({**SECURITY_HEADERS, "Content-Security-Policy": DOCS_CSP})
_RAW_NO_STORE = _raw({"Cache-Control": "no-store"})


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for the configured origins; None (no CORS headers at all) when there are none."""
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", API_KEY_HEADER, "Idempotency-Key", "Content-Type"],
        expose_headers=[
            "Retry-After",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "X-Projection-Position",
            "Idempotent-Replayed",
        ],
        allow_credentials=False,  # credentials travel in headers, never in cookies
    )
