"""GET /api/v1/audit/verify: the chain check over HTTP, for auditors of every project only."""

from __future__ import annotations

import socket
from pathlib import Path
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import api_app
from adapters.platform.services import Services
from tests.integration.audit_integrity.auditing import bearer, make_history, settings_for, tamper

URL = "/api/v1/audit/verify"


async def test_an_auditor_checks_everything_or_one_stream(
    scratch_client: AsyncTestClient, scratch_services: Services
) -> None:
    history = await make_history(scratch_services)
    run = str(history.runs[0])

    everything = await scratch_client.get(URL, headers=bearer("audit"))
    explicit = await scratch_client.get(URL, params={"all": "true"}, headers=bearer("audit"))
    one = await scratch_client.get(URL, params={"stream": run}, headers=bearer("admin"))

    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["ok"] is True and body["scope"] == "all" and body["first_break"] is None
    assert body["events"] == body["head"] > 0
    assert explicit.json()["events"] == body["events"]
    assert one.status_code == 200, one.text
    assert one.json()["scope"] == "stream" and one.json()["stream_id"] == run
    assert one.json()["events"] == len(history.links[history.runs[0]])


async def test_tampering_shows_with_its_place_and_kind(
    scratch_client: AsyncTestClient, scratch_services: Services, scratch_url: str
) -> None:
    history = await make_history(scratch_services)
    run = history.runs[1]
    target = history.links[run][2]
    await tamper(
        scratch_url,
        (
            "UPDATE events SET recorded_at = recorded_at + interval '1 hour' "
            "WHERE stream_id = $1 AND version = $2",
            [str(run), target.version],
        ),
    )

    response = await scratch_client.get(URL, headers=bearer("audit"))
    one = await scratch_client.get(URL, params={"stream": str(run)}, headers=bearer("audit"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False and body["broken_streams"] == 1
    assert body["first_break"] == body["breaks"][0]
    assert {k: body["first_break"][k] for k in ("kind", "position", "stream_id", "version")} == {
        "kind": "hash_mismatch",
        "position": target.position,
        "stream_id": str(run),
        "version": target.version,
    }
    assert one.json()["breaks"] == body["breaks"]


async def test_unknown_streams_are_404(scratch_client: AsyncTestClient) -> None:
    response = await scratch_client.get(URL, params={"stream": "nope"}, headers=bearer("audit"))

    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"stream": "x", "all": "true"}, "all"),
        ({"all": "false"}, "all"),
        ({"all": "maybe"}, "all"),
        ({"stream": "x" * 201}, "stream"),
        ({"stream": ""}, "stream"),
        ({"streams": "x"}, "streams"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    scratch_client: AsyncTestClient, params: dict[str, str], parameter: str
) -> None:
    response = await scratch_client.get(URL, params=params, headers=bearer("audit"))

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_query"
    assert response.json()["parameter"] == parameter


async def test_only_auditors_of_every_project_may_verify(
    scratch_client: AsyncTestClient,
) -> None:
    nobody = await scratch_client.get(URL)
    reader = await scratch_client.get(URL, headers=bearer("read", "write"))
    one_project = await scratch_client.get(URL, headers=bearer("audit", project=uuid4()))

    assert nobody.status_code == 401, nobody.text
    assert reader.status_code == 403 and reader.json()["code"] == "forbidden"
    assert one_project.status_code == 403 and one_project.json()["code"] == "forbidden"


async def test_verifying_while_the_database_is_down_is_503(nats_url: str, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"postgresql://postgres@127.0.0.1:{sock.getsockname()[1]}/flowledger"
    settings = settings_for(dead, nats_url, tmp_path)

    async with AsyncTestClient(app=api_app(settings, database_url=dead, nats_url=nats_url)) as http:
        response = await http.get(URL, headers=bearer("audit"))

    assert response.status_code == 503, response.text
    assert response.json()["code"] == "dependency_unavailable"
