"""A bug still answers problem details with the request id, and is logged once with its stack."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from litestar import get
from litestar.exceptions import ImproperlyConfiguredException
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from adapters.http.app import create_app
from adapters.platform.settings import Settings


class Broken(RuntimeError):
    """What a bug raises."""


@get("/api/v1/test-only/boom/{n:int}", opt={"exclude_from_auth": True}, sync_to_thread=False)
def boom(n: FromPath[int]) -> None:
    raise Broken(f"bug number {n}")


@get("/api/v1/test-only/misconfigured", opt={"exclude_from_auth": True}, sync_to_thread=False)
def misconfigured() -> None:
    raise ImproperlyConfiguredException("a framework's own 500")


@get("/api/v1/test-only/starting-up", opt={"exclude_from_auth": True}, sync_to_thread=False)
def starting_up() -> None:
    raise asyncpg.CannotConnectNowError("the database system is starting up")


@get("/api/v1/test-only/link-broken", opt={"exclude_from_auth": True}, sync_to_thread=False)
def link_broken() -> None:
    raise asyncpg.InternalClientError("cannot switch to state 12; another operation is in progress")


@pytest_asyncio.fixture
async def broken(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    app = create_app(settings, routes=[boom, misconfigured, starting_up, link_broken])
    async with AsyncTestClient(app=app) as client:
        yield client


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_unhandled_exception_is_a_500_problem_logged_once(
    broken: AsyncTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await broken.get(
            "/api/v1/test-only/boom/7", headers={"X-Request-ID": "req-under-test-1"}
        )

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "internal"
    assert body["status"] == 500
    assert body["request_id"] == response.headers["x-request-id"] == "req-under-test-1"
    assert "bug number" not in response.text, "a bug's message is for the log, not the client"
    [record] = errors(caplog)
    assert record.levelname == "ERROR"
    assert record.exc_info is not None and record.exc_info[0] is Broken
    assert record.route == "/api/v1/test-only/boom/{n}"  # type: ignore[attr-defined]
    assert record.request_id == "req-under-test-1"  # type: ignore[attr-defined]
    assert "req-under-test-1" in record.getMessage()


async def test_without_a_request_id_one_is_made_and_both_carry_it(
    broken: AsyncTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await broken.get("/api/v1/test-only/boom/8")

    rid = response.headers["x-request-id"]
    assert rid and response.json()["request_id"] == rid
    [record] = errors(caplog)
    assert record.request_id == rid  # type: ignore[attr-defined]


async def test_a_framework_500_is_answered_and_logged_the_same_way(
    broken: AsyncTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await broken.get("/api/v1/test-only/misconfigured")

    assert response.status_code == 500
    assert response.json()["code"] == "internal"
    [record] = errors(caplog)
    assert record.exc_info is not None
    assert record.exc_info[0] is ImproperlyConfiguredException


@pytest.mark.parametrize("path", ["starting-up", "link-broken"])
async def test_a_database_restarting_under_a_request_is_a_503_not_a_bug(
    broken: AsyncTestClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    # After a kill, PostgreSQL answers 57P03 for a moment and asyncpg may refuse a connection
    # left mid-operation: clients should retry, not report a bug.
    with caplog.at_level(logging.INFO):
        response = await broken.get(f"/api/v1/test-only/{path}")

    assert response.status_code == 503
    assert response.json()["code"] == "dependency_unavailable"
    assert errors(caplog) == []
