"""The served OpenAPI document tells the truth about credentials and error bodies."""

from __future__ import annotations

import re
from typing import Any

import pytest_asyncio
from litestar.testing import AsyncTestClient

PUBLIC = re.compile(r"^/((health|ready|metrics|docs|webhooks|ping|api/v1/schemas)(/|$)|$)")
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest_asyncio.fixture(scope="module")
async def document(client: AsyncTestClient) -> dict[str, Any]:
    response = await client.get("/docs/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_the_key_and_bearer_schemes_are_declared(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]

    assert schemes["apiKey"] == {
        "type": "apiKey",
        "name": "X-API-Key",
        "in": "header",
        "description": schemes["apiKey"]["description"],
    }
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")
    assert schemes["bearer"]["bearerFormat"] == "JWT"


async def test_every_protected_operation_needs_either_credential_and_no_public_one_does(
    document: dict[str, Any],
) -> None:
    protected = [(p, m) for p, m, _ in operations(document) if not PUBLIC.match(p)]
    assert len(protected) > 40

    for path, method, operation in operations(document):
        expected = None if PUBLIC.match(path) else [{"apiKey": []}, {"bearer": []}]
        assert operation.get("security") == expected, (method, path)


async def test_every_error_is_declared_as_problem_json(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, status) == ("/ready", "503"):
                continue  # /ready's 503 is its readiness report, not a problem
            assert list(response.get("content", {})) == ["application/problem+json"], (
                method,
                path,
                status,
            )


async def test_every_operation_declares_500_and_every_body_route_415(
    document: dict[str, Any],
) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert {"status", "title", "detail", "code"} <= set(problem["required"])

    for path, method, operation in operations(document):
        assert "500" in operation["responses"], (method, path)
        if "requestBody" in operation:
            assert "415" in operation["responses"], (method, path)
        if path.startswith("/api/"):
            assert "400" in operation["responses"], (method, path)
