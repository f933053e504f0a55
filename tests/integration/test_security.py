"""API security against real PostgreSQL: credentials, rate limits, headers, CORS, on a tiny app."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import jwt
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar, Request, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from litestar.testing import AsyncTestClient

from adapters.bootstrap import open_services as open_write_side
from adapters.http.security import (
    FlowledgerAuthentication,
    cors_config,
    security_headers,
    security_middleware,
)
from adapters.platform.admin_key import create_key
from adapters.platform.secrets import SecretBox
from adapters.platform.settings import Settings
from adapters.store.repository import Repository
from commands.context import Principal
from domain.api_key import ApiKey
from domain.registry import default_registry

JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs256"
SETTINGS = Settings(jwt_secret=JWT_SECRET, cipher_key=SecretBox.generate_key())
ORIGIN = "https://app.example.com"


@get("/api/v1/whoami", sync_to_thread=False)
def whoami(request: Request[Principal, Any, Any]) -> dict[str, Any]:
    principal = request.user
    return {
        "auth": request.auth,
        "id": principal.id,
        "name": principal.name,
        "project_id": None if principal.project_id is None else str(principal.project_id),
        "scopes": sorted(principal.scopes),
    }


@get("/api/v1/revoked-while-answered")
async def revoked_while_answered(request: Request[Principal, Any, Any]) -> dict[str, str]:
    """Answers after another process revoked the caller's key: a plain repository on the app's
    store (nothing of the app's cache), in a context of its own (nothing of the request's)."""

    async def revoke() -> None:
        repository = Repository(request.app.state.services.store, default_registry())
        key = await repository.get(ApiKey, UUID(request.user.id.removeprefix("key:")))
        key.revoke(revoked_by="admin", at=datetime.now(UTC))
        await repository.save(key)

    await asyncio.create_task(revoke(), context=contextvars.Context())
    return {"answered": "yes"}


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@asynccontextmanager
async def open_services(database_url: str) -> AsyncIterator[SimpleNamespace]:
    async with open_write_side(SETTINGS, database_url) as services:
        yield SimpleNamespace(
            store=services.store,
            repository=services.repository,
            bus=services.bus,
            database_url=database_url,
        )


@pytest_asyncio.fixture(scope="module")
async def services(database_url: str) -> AsyncIterator[SimpleNamespace]:
    """The tests' own write side (the app runs on the test client's loop, with its own)."""
    async with open_services(database_url) as services:
        yield services


def make_app(services: SimpleNamespace, **overrides: Any) -> Litestar:
    settings = msgspec.structs.replace(Settings(jwt_secret=JWT_SECRET), **overrides)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services(services.database_url) as app.state.services:
            yield

    return Litestar(
        route_handlers=[whoami, revoked_while_answered, health],
        middleware=[*security_middleware(settings), DefineMiddleware(FlowledgerAuthentication)],
        before_send=[security_headers],
        cors_config=cors_config(settings),
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))],
        openapi_config=OpenAPIConfig(
            title="t", version="1", path="/docs", render_plugins=[ScalarRenderPlugin()]
        ),
        lifespan=[lifespan],
        state=State({"settings": settings}),
    )


@pytest_asyncio.fixture
async def http(services: SimpleNamespace) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=make_app(services)) as client:
        yield client


async def issue(
    services: SimpleNamespace,
    *,
    scopes: tuple[str, ...] = ("read",),
    project_id: UUID | None = None,
    at: datetime | None = None,
    expires_at: datetime | None = None,
) -> tuple[UUID, str]:
    return await create_key(
        services,
        name="ci bot",
        scopes=scopes,
        project_id=project_id,
        at=at or datetime.now(UTC),
        expires_at=expires_at,
    )


def bearer(claims: dict[str, Any], secret: str = JWT_SECRET) -> dict[str, str]:
    now = datetime.now(UTC)
    payload = {"sub": "alice", "iat": now, "exp": now + timedelta(minutes=5), **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return {"Authorization": f"Bearer {jwt.encode(payload, secret, algorithm='HS256')}"}


def assert_refused(response: Any, code: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_no_credentials_is_401_with_a_challenge(http: AsyncTestClient) -> None:
    assert_refused(await http.get("/api/v1/whoami"), "credentials_missing")


async def test_health_and_docs_need_no_credentials(http: AsyncTestClient) -> None:
    assert (await http.get("/health")).status_code == 200
    assert (await http.get("/docs")).status_code == 200
    assert (await http.get("/docs/openapi.json")).status_code == 200


async def test_a_valid_api_key_reaches_the_handler_as_its_principal(
    services: SimpleNamespace, http: AsyncTestClient
) -> None:
    key_id, token = await issue(services, scopes=("read", "write"))

    response = await http.get("/api/v1/whoami", headers={"X-API-Key": token})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "auth": "api_key",
        "id": f"key:{key_id}",
        "name": "ci bot",
        "project_id": None,
        "scopes": ["read", "write"],
    }


async def test_a_project_key_brings_its_project(
    services: SimpleNamespace, http: AsyncTestClient
) -> None:
    project_id = uuid4()
    _, token = await issue(services, project_id=project_id)

    response = await http.get("/api/v1/whoami", headers={"X-API-Key": token})

    assert response.json()["project_id"] == str(project_id)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-key",
        f"flk_{uuid4().hex}_{'A' * 43}",  # well formed, but no such key
    ],
)
async def test_malformed_or_unknown_keys_are_invalid(http: AsyncTestClient, token: str) -> None:
    assert_refused(
        await http.get("/api/v1/whoami", headers={"X-API-Key": token}), "credentials_invalid"
    )


async def test_a_wrong_secret_is_invalid(services: SimpleNamespace, http: AsyncTestClient) -> None:
    _, token = await issue(services)
    forged = token[:-43] + ("B" if token[-43] != "B" else "C") + token[-42:]

    response = await http.get("/api/v1/whoami", headers={"X-API-Key": forged})

    assert_refused(response, "credentials_invalid")


async def test_a_revoked_key_stops_working_at_once(
    services: SimpleNamespace, http: AsyncTestClient
) -> None:
    key_id, token = await issue(services)
    assert (await http.get("/api/v1/whoami", headers={"X-API-Key": token})).status_code == 200

    key = await services.repository.get(ApiKey, key_id)
    key.revoke(revoked_by="admin", at=datetime.now(UTC))
    await services.repository.save(key)

    response = await http.get("/api/v1/whoami", headers={"X-API-Key": token})
    assert_refused(response, "credentials_revoked")


async def test_a_key_revoked_while_the_request_is_answered_refuses_the_answer(
    services: SimpleNamespace, http: AsyncTestClient
) -> None:
    _, token = await issue(services)
    headers = {"X-API-Key": token}
    assert (await http.get("/api/v1/whoami", headers=headers)).status_code == 200

    # Taken unread (kept since the first request), revoked during the handler: the answer's
    # check before its first byte finds the revocation.
    response = await http.get("/api/v1/revoked-while-answered", headers=headers)

    assert_refused(response, "credentials_revoked")
    assert "answered" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"  # the app's own headers


async def test_an_expired_key_is_refused(services: SimpleNamespace, http: AsyncTestClient) -> None:
    now = datetime.now(UTC)
    _, token = await issue(
        services, at=now - timedelta(hours=2), expires_at=now - timedelta(hours=1)
    )

    response = await http.get("/api/v1/whoami", headers={"X-API-Key": token})

    assert_refused(response, "credentials_expired")


async def test_a_valid_jwt_reaches_the_handler_as_its_principal(http: AsyncTestClient) -> None:
    project_id = uuid4()
    headers = bearer({"scopes": ["read", "runner"], "project": str(project_id), "name": "Alice"})

    response = await http.get("/api/v1/whoami", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "auth": "jwt",
        "id": "jwt:alice",
        "name": "Alice",
        "project_id": str(project_id),
        "scopes": ["read", "runner"],
    }


async def test_a_jwt_for_every_project_names_none(http: AsyncTestClient) -> None:
    for project in ("*", None):
        response = await http.get(
            "/api/v1/whoami", headers=bearer({"scopes": ["admin"], "project": project})
        )
        assert response.status_code == 200, response.text
        assert response.json()["project_id"] is None
        assert response.json()["name"] == "alice"


async def test_an_expired_jwt_is_refused(http: AsyncTestClient) -> None:
    past = datetime.now(UTC) - timedelta(minutes=10)
    headers = bearer({"iat": past, "exp": past + timedelta(minutes=1), "scopes": ["read"]})

    assert_refused(await http.get("/api/v1/whoami", headers=headers), "credentials_expired")


@pytest.mark.parametrize(
    "make_headers",  # made when the test runs: a token made at collection could expire
    [
        pytest.param(lambda: bearer({"scopes": ["read"]}, secret="x" * 40), id="wrong signature"),
        pytest.param(lambda: bearer({"scopes": ["read", "root"]}), id="unknown scope"),
        pytest.param(lambda: bearer({"scopes": "read"}), id="scopes not a list"),
        pytest.param(lambda: bearer({"project": "web"}), id="project not a UUID"),
        pytest.param(lambda: bearer({"sub": None}), id="no subject"),
        pytest.param(lambda: bearer({"exp": None}), id="no expiry"),
        pytest.param(lambda: bearer({"iat": None}), id="no iat: litestar's Token requires it"),
        pytest.param(lambda: {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, id="not a bearer token"),
        pytest.param(lambda: {"Authorization": "Bearer not.a.jwt"}, id="garbage"),
    ],
)
async def test_a_bad_jwt_is_invalid(
    http: AsyncTestClient, make_headers: Callable[[], dict[str, str]]
) -> None:
    response = await http.get("/api/v1/whoami", headers=make_headers())

    assert_refused(response, "credentials_invalid")


async def test_jwts_are_refused_when_no_secret_is_configured(services: SimpleNamespace) -> None:
    async with AsyncTestClient(app=make_app(services, jwt_secret=None)) as http:
        response = await http.get("/api/v1/whoami", headers=bearer({"scopes": ["read"]}))

    assert_refused(response, "credentials_invalid")


async def test_two_credentials_at_once_are_invalid(
    services: SimpleNamespace, http: AsyncTestClient
) -> None:
    _, token = await issue(services)
    headers = {"X-API-Key": token, **bearer({"scopes": ["read"]})}

    assert_refused(await http.get("/api/v1/whoami", headers=headers), "credentials_invalid")


async def test_the_per_credential_limit_answers_429_with_retry_after(
    services: SimpleNamespace,
) -> None:
    (_, first), (_, second) = await issue(services), await issue(services)
    app = make_app(services, rate_limit_per_key=2, rate_limit_per_address=100)
    async with AsyncTestClient(app=app) as http:
        statuses = [
            (await http.get("/api/v1/whoami", headers={"X-API-Key": first})).status_code
            for _ in range(2)
        ]
        refused = await http.get("/api/v1/whoami", headers={"X-API-Key": first})
        other = await http.get("/api/v1/whoami", headers={"X-API-Key": second})
        health = [(await http.get("/health")).status_code for _ in range(5)]

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert other.status_code == 200, "another key has its own budget"
    assert health == [200] * 5, "health checks are never limited"


async def test_the_per_address_limit_counts_every_credential_and_none(
    services: SimpleNamespace,
) -> None:
    _, token = await issue(services)
    app = make_app(services, rate_limit_per_key=0, rate_limit_per_address=3)
    async with AsyncTestClient(app=app) as http:
        statuses = [
            (await http.get("/api/v1/whoami", headers=headers)).status_code
            for headers in ({"X-API-Key": token}, {}, bearer({"scopes": ["read"]}), {})
        ]
        refused = await http.get("/api/v1/whoami", headers={"X-API-Key": token})

    assert statuses == [200, 401, 200, 429]
    assert refused.status_code == 429
    assert "retry-after" in refused.headers


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/whoami", 200), ("/api/v1/nothing-here", 404), ("/health", 200), ("/x", 404)],
)
async def test_security_headers_on_every_response(
    services: SimpleNamespace, http: AsyncTestClient, path: str, status: int
) -> None:
    _, token = await issue(services)

    response = await http.get(path, headers={"X-API-Key": token})

    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    csp = response.headers["content-security-policy"]
    assert csp == "default-src 'none'; frame-ancestors 'none'"
    assert (response.headers.get("cache-control") == "no-store") == path.startswith("/api/")


async def test_security_headers_on_refusals_and_a_looser_csp_for_the_docs(
    http: AsyncTestClient,
) -> None:
    refused = await http.get("/api/v1/whoami")
    docs = await http.get("/docs")

    assert refused.headers["x-frame-options"] == "DENY"
    assert refused.headers["cache-control"] == "no-store"
    assert "default-src" not in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"


async def test_cors_preflight_from_an_allowed_origin_only(services: SimpleNamespace) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Idempotency-Key, Content-Type",
        }

    async with AsyncTestClient(app=make_app(services, cors_origins=(ORIGIN,))) as http:
        allowed = await http.options("/api/v1/whoami", headers=preflight(ORIGIN))
        other = await http.options("/api/v1/whoami", headers=preflight("https://evil.example"))
        simple = await http.get("/api/v1/whoami", headers={"Origin": ORIGIN})

    assert allowed.status_code in (200, 204), allowed.text
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    allowed_headers = allowed.headers["access-control-allow-headers"].lower()
    assert {"x-api-key", "idempotency-key", "content-type", "authorization"} <= {
        h.strip() for h in allowed_headers.split(",")
    }
    assert "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "retry-after" in simple.headers["access-control-expose-headers"].lower()


async def test_no_cors_headers_without_configured_origins(http: AsyncTestClient) -> None:
    response = await http.get("/health", headers={"Origin": ORIGIN})

    assert "access-control-allow-origin" not in response.headers
