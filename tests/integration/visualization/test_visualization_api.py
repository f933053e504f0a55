"""GET a pipeline's graph over HTTP: JSON and SVG, pinned versions, a run's real step states."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from adapters.visualization.palette import PALETTE
from tests.helpers import unique_id
from tests.integration.api.queries_support import get, pipeline, project, report, trigger

pytestmark = pytest.mark.usefixtures("projector")  # session-scoped: it starts before `world`

SVG_NS = {"svg": "http://www.w3.org/2000/svg"}
V1_STEPS = [
    {"name": "build", "run": "make build"},
    {"name": "test", "run": "pytest -q\npytest -q tests/slow", "needs": ["build"]},
    {"name": "lint", "run": "ruff check .", "needs": ["build"], "retries": 1},
    {"name": "deploy", "run": "./deploy.sh", "needs": ["test", "lint"], "timeout_s": 900},
]
V2_STEPS = [*V1_STEPS, {"name": "notify", "run": "curl -X POST hook", "needs": ["deploy"]}]


def graph_path(pipeline_id: str, svg: bool = False) -> str:
    return f"/api/v1/pipelines/{pipeline_id}/visualization{'.svg' if svg else ''}"


@pytest_asyncio.fixture(scope="module")
async def world(client: AsyncTestClient, admin: dict[str, str], keys: Any) -> dict[str, Any]:
    """A four-step DAG at version 1, a run of it with a failed step, then a version 2."""
    mine, theirs = await project(client, admin), await project(client, admin)
    body = {"project_id": mine, "name": "ci", "steps": V1_STEPS}
    created = await client.post("/api/v1/pipelines", json=body, headers=admin)
    assert created.status_code == 201, created.text
    ci = created.json()["id"]
    run = (await trigger(client, admin, ci))["id"]
    await report(client, admin, run, step="build", status="running")
    await report(client, admin, run, step="build", status="succeeded", exit_code=0)
    await report(client, admin, run, step="lint", status="running")
    await report(client, admin, run, step="lint", status="succeeded", exit_code=0)
    await report(client, admin, run, step="test", status="running")
    await report(client, admin, run, step="test", status="failed", exit_code=2, reason="red")
    v2 = {"name": "ci", "steps": V2_STEPS}
    defined = await client.put(f"/api/v1/pipelines/{ci}", json=v2, headers=admin)
    assert defined.status_code == 202, defined.text
    sibling = await pipeline(client, admin, mine, name="docs")
    elsewhere = await pipeline(client, admin, theirs)
    last = (await trigger(client, admin, sibling))["id"]
    position = (await trigger(client, admin, elsewhere))["position"]
    await get(client, admin, "/api/v1/status", at=position)
    return {
        "ci": ci,
        "run": run,
        "sibling_run": last,
        "elsewhere": elsewhere,
        "position": position,
        "reader": await keys.make("read", project_id=UUID(mine), name="viewer"),
        "runner": await keys.make("runner", name="no-read"),
    }


async def test_the_graph_of_the_current_version(client, admin, world) -> None:
    graph = await get(client, admin, graph_path(world["ci"]), at=world["position"])

    assert (graph["name"], graph["version"], graph["run"]) == ("ci", 2, None)
    assert [n["name"] for n in graph["nodes"]] == ["build", "test", "lint", "deploy", "notify"]
    assert graph["layers"] == [["build"], ["test", "lint"], ["deploy"], ["notify"]]
    assert [(e["from"], e["to"]) for e in graph["edges"]] == [
        ("build", "test"),
        ("build", "lint"),
        ("test", "deploy"),
        ("lint", "deploy"),
        ("deploy", "notify"),
    ]
    test = graph["nodes"][1]
    assert {k: test[k] for k in ("command", "timeout_s", "retries", "needs", "layer", "order")} == {
        "command": "pytest -q …",
        "timeout_s": 3600,
        "retries": 0,
        "needs": ["build"],
        "layer": 1,
        "order": 0,
    }
    assert test["status"] is None and test["duration_ms"] is None
    assert graph["mermaid"].startswith('flowchart LR\n    build["build"]\n')
    assert "    deploy --> notify\n" in graph["mermaid"] and "classDef" not in graph["mermaid"]
    assert graph["position"] >= world["position"]


async def test_a_pinned_version_and_an_unknown_one(client, admin, world) -> None:
    v1 = await get(client, admin, graph_path(world["ci"]), version=1)
    missing = await get(client, admin, graph_path(world["ci"]), version=9, expect=404)

    assert v1["version"] == 1 and len(v1["nodes"]) == 4
    assert missing["code"] == "unknown_pipeline_version"


async def test_a_run_lays_its_real_step_states_over_the_version_it_pinned(
    client, admin, world
) -> None:
    graph = await get(client, admin, graph_path(world["ci"]), run=world["run"])

    assert graph["version"] == 1
    assert (graph["run"]["id"], graph["run"]["status"]) == (world["run"], "failed")
    assert graph["run"]["failed_step"] == "test"
    nodes = {n["name"]: n for n in graph["nodes"]}
    assert {name: n["status"] for name, n in nodes.items()} == {
        "build": "succeeded",
        "test": "failed",
        "lint": "succeeded",
        "deploy": "skipped",
    }
    test = nodes["test"]
    assert (test["attempt"], test["max_attempts"], test["exit_code"]) == (1, 1, 2)
    assert test["started_at"] and test["finished_at"] and test["duration_ms"] is not None
    assert (nodes["lint"]["max_attempts"], nodes["deploy"]["duration_ms"]) == (2, None)
    text = graph["mermaid"]
    assert '    test["test<br/>failed (exit 2)' in text
    assert "    classDef failed fill:#fee2e2,stroke:#dc2626,color:#7f1d1d\n" in text
    assert "    class test failed\n" in text and "    class deploy skipped\n" in text


async def test_the_svg_shows_the_run_in_colour(client, admin, world) -> None:
    response = await client.get(
        graph_path(world["ci"], svg=True), params={"run": world["run"]}, headers=admin
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert int(response.headers["x-projection-position"]) >= world["position"]
    root = ET.fromstring(response.text)
    boxes = {g.get("data-step"): g for g in root.iterfind(".//svg:g[@data-step]", SVG_NS)}
    assert {name: g.get("data-state") for name, g in boxes.items()} == {
        "build": "succeeded",
        "test": "failed",
        "lint": "succeeded",
        "deploy": "skipped",
    }
    failed = boxes["test"].find("svg:rect", SVG_NS)
    assert failed is not None and failed.get("fill") == PALETTE["failed"].fill
    assert len(root.findall(".//svg:path[@class='edge']", SVG_NS)) == 4
    assert "ci · version 1 · run" in (root.findtext("svg:title", namespaces=SVG_NS) or "")


async def test_the_svg_of_a_definition(client, admin, world) -> None:
    response = await client.get(graph_path(world["ci"], svg=True), headers=admin)

    assert response.status_code == 200, response.text
    root = ET.fromstring(response.text)
    states = {g.get("data-state") for g in root.iterfind(".//svg:g[@data-step]", SVG_NS)}
    assert states == {"defined"}
    assert len(root.findall(".//svg:path[@class='edge']", SVG_NS)) == 5


@pytest.mark.parametrize("svg", [False, True])
async def test_unknown_things_are_404_and_bad_parameters_422(client, admin, world, svg) -> None:
    path = graph_path(world["ci"], svg)

    def answer(response) -> tuple[int, str, str | None]:
        body = response.json()
        return response.status_code, body["code"], body.get("parameter")

    unknown_pipeline = await client.get(graph_path(str(uuid4()), svg), headers=admin)
    unknown_run = await client.get(path, params={"run": str(uuid4())}, headers=admin)
    other_pipeline = await client.get(path, params={"run": world["sibling_run"]}, headers=admin)
    clash = await client.get(path, params={"run": world["run"], "version": 2}, headers=admin)
    not_uuid = await client.get(path, params={"run": "nope"}, headers=admin)
    zero = await client.get(path, params={"version": 0}, headers=admin)
    stray = await client.get(path, params={"colour": "red"}, headers=admin)

    assert answer(unknown_pipeline) == (404, "not_found", None)
    assert unknown_pipeline.headers["content-type"].startswith("application/problem+json")
    assert answer(unknown_run) == (404, "not_found", None)
    assert answer(other_pipeline) == (422, "run_of_another_pipeline", "run")
    assert answer(clash) == (422, "invalid_query", "version")
    assert answer(not_uuid) == (422, "invalid_query", "run")
    assert answer(zero) == (422, "invalid_query", "version")
    assert answer(stray) == (422, "invalid_query", "colour")


async def test_reads_need_the_read_scope_within_the_callers_project(client, world) -> None:
    anonymous = await client.get(graph_path(world["ci"]))
    no_read = await client.get(graph_path(world["ci"]), headers=world["runner"])
    elsewhere = await client.get(graph_path(world["elsewhere"]), headers=world["reader"])
    own = await client.get(
        graph_path(world["ci"], svg=True), params={"run": world["run"]}, headers=world["reader"]
    )

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "credentials_missing")
    assert (no_read.status_code, no_read.json()["code"]) == (403, "forbidden")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "not_found")
    assert own.status_code == 200


async def test_a_fresh_pipeline_can_be_read_as_soon_as_it_is_written(client, admin) -> None:
    mine = await project(client, admin, name=unique_id("v"))
    body = {"project_id": mine, "name": "one", "steps": [{"name": "only", "run": "true"}]}
    created = (await client.post("/api/v1/pipelines", json=body, headers=admin)).json()

    graph = await get(client, admin, graph_path(created["id"]), at=created["position"])

    assert (graph["layers"], graph["edges"]) == ([["only"]], [])


async def test_both_routes_are_in_the_openapi_document(client) -> None:
    paths = (await client.get("/docs/openapi.json")).json()["paths"]

    as_json = paths["/api/v1/pipelines/{pipeline_id}/visualization"]["get"]
    as_svg = paths["/api/v1/pipelines/{pipeline_id}/visualization.svg"]["get"]

    assert as_json["operationId"] == "getPipelineVisualization"
    assert {p["name"] for p in as_json["parameters"]} >= {"run", "version", "min_position"}
    assert list(as_svg["responses"]["200"]["content"]) == ["image/svg+xml"]
    assert {"404", "422"} <= set(as_svg["responses"])
