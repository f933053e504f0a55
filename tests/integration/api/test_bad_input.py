"""Input no route can use is a 4xx problem naming what is wrong, never a 500, and writes nothing.

The routes are read from the app's own OpenAPI, so a route added later is covered too.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.api.queries_support import (
    pipeline,
    project,
    trigger,
)

pytestmark = pytest.mark.usefixtures("projector")

BIGINT_PLUS_ONE = str(2**63)
HUGE = "1" + "0" * 20
DEEP = b'{"name": ' + b"[" * 1500 + b"]" * 1500 + b"}"
NOT_UTF8 = b'{"name": "caf\xe9", "slug": "not-utf8"}'


def operations(app: Litestar, has: str) -> list[tuple[str, str]]:
    """`(method, path)` of every /api operation with a request body or the query parameter."""
    found = []
    for path, item in app.openapi_schema.to_schema()["paths"].items():
        for method, operation in item.items():
            if not path.startswith("/api/") or not isinstance(operation, dict):
                continue
            parameters = operation.get("parameters") or []
            names = {p["name"] for p in parameters}
            if (has == "body" and operation.get("requestBody")) or has in names:
                found.append((method.upper(), _filled(path, parameters)))
    assert found, f"no operation has {has}"
    return sorted(found)


def _filled(path: str, parameters: list[dict[str, Any]]) -> str:
    """`path` with a value for each path parameter: 1 for an integer, else a fresh UUID."""
    integers = {
        p["name"]
        for p in parameters
        if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
    }
    return re.sub(r"\{([^}]+)\}", lambda m: "1" if m[1] in integers else str(uuid4()), path)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body


@pytest_asyncio.fixture(scope="module")
async def world(client: AsyncTestClient, admin: dict[str, str]) -> dict[str, str]:
    ci = await pipeline(client, admin, await project(client, admin))
    run = await trigger(client, admin, ci)
    return {"pipeline": ci, "run": run["id"]}


@pytest.mark.parametrize(
    ("body", "why"), [(NOT_UTF8, "UTF-8"), (DEEP, "nested")], ids=["not-utf8", "deep"]
)
async def test_an_undecodable_body_is_400_malformed_json_on_every_command_route(
    app: Litestar, client: AsyncTestClient, admin: dict[str, str], services: Any, body, why
) -> None:
    head = await services.store.head_position()
    headers = {**admin, "Content-Type": "application/json"}

    for method, path in operations(app, "body"):
        response = await client.request(method, path, content=body, headers=headers)

        problem = assert_problem(response, 400, "malformed_json")
        assert why in problem["detail"], (method, path, problem)
    assert await services.store.head_position() == head


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_not_sent_as_json_is_415_on_every_command_route(
    app: Litestar, client: AsyncTestClient, admin: dict[str, str], services: Any, content_type
) -> None:
    head = await services.store.head_position()
    body = b'{"name": "text", "slug": "sent-as-text"}'
    headers = {**admin, **({"Content-Type": content_type} if content_type else {})}

    for method, path in operations(app, "body"):
        response = await client.request(method, path, content=body, headers=headers)

        assert_problem(response, 415, "unsupported_media_type")
    assert await services.store.head_position() == head


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/merge-patch+json"]
)
async def test_json_with_parameters_or_a_json_suffix_is_accepted(
    client: AsyncTestClient, admin: dict[str, str], content_type: str
) -> None:
    body = b'{"name": "typed", "slug": "typed-%s"}' % uuid4().hex[:8].encode()

    response = await client.post(
        "/api/v1/projects", content=body, headers={**admin, "Content-Type": content_type}
    )

    assert response.status_code == 201, response.text


async def test_an_optional_body_may_be_left_out_without_a_content_type(
    client: AsyncTestClient, admin: dict[str, str], world: dict[str, str]
) -> None:
    response = await client.post(f"/api/v1/pipeline-runs/{world['run']}/cancel", headers=admin)

    assert response.status_code == 202, response.text


@pytest.mark.parametrize("parameter", ["offset", "after"])
async def test_a_position_or_offset_beyond_a_bigint_is_422_naming_it(
    app: Litestar, client: AsyncTestClient, admin: dict[str, str], parameter: str
) -> None:
    for _, path in operations(app, parameter):
        response = await client.get(path, params={parameter: BIGINT_PLUS_ONE}, headers=admin)

        assert assert_problem(response, 422, "invalid_query")["parameter"] == parameter, path


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/pipelines/{pipeline}/visualization",
        "/api/v1/pipelines/{pipeline}/visualization.svg",
        "/api/v1/pipelines/{pipeline}/state",
        "/api/v1/pipeline-runs/{run}/state",
    ],
)
@pytest.mark.parametrize("version", [HUGE, str(2**31), BIGINT_PLUS_ONE, "1_0", "-1"])
async def test_an_absurd_version_is_422_naming_it(
    client: AsyncTestClient, admin: dict[str, str], world: dict[str, str], path: str, version
) -> None:
    response = await client.get(path.format(**world), params={"version": version}, headers=admin)

    if path.endswith("state") and version == str(2**31):
        # A stream version may be that high: past the stream's head it is an unknown version.
        assert response.status_code == 404, response.text
        return
    assert assert_problem(response, 422, "invalid_query")["parameter"] == "version"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/events", "type"),
        ("/api/v1/pipeline-runs", "actor"),
        ("/api/v1/pipeline-runs", "branch"),
        ("/api/v1/pipelines", "name"),
        ("/api/v1/pipelines", "tags"),
        ("/api/v1/pipeline-runs/{run}/logs", "q"),
        ("/api/v1/pipeline-runs/{run}/logs", "step"),
    ],
)
async def test_a_nul_in_a_filter_is_422_naming_it(
    client: AsyncTestClient, admin: dict[str, str], world: dict[str, str], path, parameter
) -> None:
    response = await client.get(f"{path.format(**world)}?{parameter}=a%00b", headers=admin)

    assert assert_problem(response, 422, "invalid_query")["parameter"] == parameter


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/pipelines", "created_after"),
        ("/api/v1/pipeline-runs", "started_before"),
        ("/api/v1/events", "recorded_after"),
        ("/api/v1/webhook-deliveries", "received_after"),
        ("/api/v1/pipeline-runs/{run}/state", "at"),
    ],
)
@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
async def test_a_moment_beyond_the_calendar_in_utc_is_422_naming_it(
    client: AsyncTestClient, admin: dict[str, str], world: dict[str, str], path, parameter, at
) -> None:
    response = await client.get(path.format(**world), params={parameter: at}, headers=admin)

    assert assert_problem(response, 422, "invalid_query")["parameter"] == parameter


@pytest.mark.parametrize("value", [HUGE, BIGINT_PLUS_ONE, "-1", "1e3", "x" * 10_000])
async def test_an_absurd_min_position_header_is_422(
    client: AsyncTestClient, admin: dict[str, str], value: str
) -> None:
    response = await client.get("/api/v1/pipeline-runs", headers={**admin, "X-Min-Position": value})

    assert assert_problem(response, 422, "invalid_query")["parameter"] == "X-Min-Position"


@pytest.mark.parametrize("value", [HUGE, "0", "-3", '"1_0"', "9" * 5000])
async def test_an_absurd_if_match_is_422(
    client: AsyncTestClient, admin: dict[str, str], world: dict[str, str], services, value
) -> None:
    head = await services.store.head_position()
    definition = {"name": "ci", "steps": [{"name": "build", "run": "make"}]}

    response = await client.put(
        f"/api/v1/pipelines/{world['pipeline']}",
        json=definition,
        headers={**admin, "If-Match": value},
    )

    assert_problem(response, 422, "invalid_if_match")
    assert await services.store.head_position() == head


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("Idempotency-Key", "a\x00b", "invalid_idempotency_key"),
        ("Idempotency-Key", "a\x01b", "invalid_idempotency_key"),
        ("Idempotency-Key", "k" * 256, "invalid_idempotency_key"),
        ("X-Correlation-Id", "c" * 20_000, "invalid_header"),
        ("X-Causation-Id", "c" * 20_000, "invalid_header"),
        ("X-Causation-Id", "a\x00b", "invalid_header"),
    ],
    ids=["key-nul", "key-control", "key-long", "correlation-long", "causation-long", "nul"],
)
async def test_an_absurd_command_header_is_422_naming_it(
    client: AsyncTestClient, admin: dict[str, str], services, header, value, code
) -> None:
    head = await services.store.head_position()

    response = await client.post(
        "/api/v1/projects",
        json={"name": "h", "slug": f"h-{uuid4().hex[:8]}"},
        headers={**admin, header: value},
    )

    assert assert_problem(response, 422, code)["header"] == header
    assert await services.store.head_position() == head


async def test_a_malformed_traceparent_is_dropped_not_stored(
    client: AsyncTestClient, admin: dict[str, str], services
) -> None:
    response = await client.post(
        "/api/v1/projects",
        json={"name": "t", "slug": f"t-{uuid4().hex[:8]}"},
        headers={**admin, "traceparent": "x" * 5000},
    )

    assert response.status_code == 201, response.text
    [event] = await services.store.read_stream(response.json()["id"])
    assert event.metadata.traceparent is None or event.metadata.traceparent.startswith("00-")


@pytest.mark.parametrize("path", ["/api/v1/pipeline-runs/not-a-uuid", "/api/v1/pipelines/%00"])
async def test_a_path_id_that_is_not_a_uuid_is_a_404_problem(
    client: AsyncTestClient, admin: dict[str, str], path: str
) -> None:
    assert_problem(await client.get(path, headers=admin), 404, "not_found")
