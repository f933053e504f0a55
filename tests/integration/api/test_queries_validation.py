"""Each bad query is a 422 `invalid_query` naming the parameter, before anything is read."""

from __future__ import annotations

from uuid import uuid4

import pytest

RUNS = "/api/v1/pipeline-runs"
pytestmark = pytest.mark.usefixtures("projector")

CURSOR_FOR_ANOTHER_ORDER = (
    "WyJzdGFydGVkX2F0IiwiYXNjIixudWxsLCIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAiXQ"
)


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        (RUNS, {"colour": "red"}, "colour"),
        (RUNS, {"created_after": "yesterday"}, "created_after"),
        (RUNS, {"started_before": "2024-13-01T00:00:00Z"}, "started_before"),
        (RUNS, {"completed_after": "2024-01-01T00:00:00"}, "completed_after"),
        (RUNS, {"limit": 0}, "limit"),
        (RUNS, {"limit": 5000}, "limit"),
        (RUNS, {"limit": "ten"}, "limit"),
        (RUNS, {"limit": [5, 6]}, "limit"),
        (RUNS, {"offset": -1}, "offset"),
        (RUNS, {"status": "done"}, "status"),
        (RUNS, {"status": "failed,done"}, "status"),
        (RUNS, {"trigger": "robot"}, "trigger"),
        (RUNS, {"provider": "circleci"}, "provider"),
        (RUNS, {"order": "sideways"}, "order"),
        (RUNS, {"order_by": "colour"}, "order_by"),
        (RUNS, {"offset": 10, "cursor": "abc"}, "cursor"),
        (RUNS, {"cursor": "not-a-cursor!"}, "cursor"),
        (RUNS, {"cursor": CURSOR_FOR_ANOTHER_ORDER}, "cursor"),
        (RUNS, {"pipeline_id": "nope"}, "pipeline_id"),
        (RUNS, {"min_position": -1}, "min_position"),
        ("/api/v1/pipelines", {"is_active": "maybe"}, "is_active"),
        ("/api/v1/pipelines", {"order_by": "status"}, "order_by"),
        ("/api/v1/pipelines", {"updated_before": "2024-01-01"}, "updated_before"),
        ("/api/v1/pipelines", {"started_after": "2024-01-01T00:00:00Z"}, "started_after"),
        (f"/api/v1/pipelines/{uuid4()}", {"limit": 5}, "limit"),
        (f"/api/v1/pipeline-runs/{uuid4()}/logs", {"tail": 0}, "tail"),
        ("/api/v1/analytics/summary", {"days": 0}, "days"),
        ("/api/v1/webhook-sources", {"kind": "svn"}, "kind"),
        ("/api/v1/status", {"verbose": "1"}, "verbose"),
    ],
)
async def test_each_bad_parameter_is_a_422_naming_it(
    client, admin, path, params, parameter
) -> None:
    response = await client.get(path, params=params, headers=admin)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_query"
    assert body["parameter"] == parameter
    assert parameter in body["detail"]


async def test_a_timezone_is_enough_and_plus_signs_survive_unencoded(client, admin) -> None:
    for value in ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00+02:00"):
        response = await client.get(RUNS, params={"created_after": value}, headers=admin)
        assert response.status_code == 200, response.text
    raw = await client.get(f"{RUNS}?created_after=2024-01-01T00:00:00+02:00", headers=admin)
    assert raw.status_code == 200, raw.text


async def test_a_bad_min_position_header_is_a_422(client, admin) -> None:
    response = await client.get(RUNS, headers={**admin, "X-Min-Position": "soon"})

    assert response.status_code == 422
    assert response.json()["parameter"] == "X-Min-Position"


async def test_the_parameters_are_in_the_openapi_document(client) -> None:
    schema = (await client.get("/docs/openapi.json")).json()
    operation = schema["paths"][RUNS]["get"]

    assert operation["operationId"] == "listRuns"
    names = {p["name"] for p in operation["parameters"]}
    assert {"status", "trigger", "created_after", "cursor", "order_by", "min_position"} <= names
