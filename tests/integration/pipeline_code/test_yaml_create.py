"""`POST /api/v1/pipelines` with `Content-Type: application/yaml`: the file format creates a
pipeline, refused with the same problems PUT gives (over a real socket)."""

from __future__ import annotations

import textwrap
from typing import Any

import httpx
import pytest

from adapters.platform.services import Services
from tests.helpers import unique_id

YAML = {"Content-Type": "application/yaml"}


@pytest.fixture
async def http(base_url: str) -> Any:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


async def new_project(http: httpx.AsyncClient, admin: dict[str, str]) -> str:
    slug = unique_id("yc-")[:40]
    project = await http.post("/api/v1/projects", json={"name": "Y", "slug": slug}, headers=admin)
    assert project.status_code == 201, project.text
    return project.json()["id"]


async def pipeline_events(services: Services, project: str) -> list[str]:
    rows = await services.store.pool.fetch(
        "SELECT type FROM events WHERE stream_type = 'pipeline' AND data->>'project_id' = $1",
        project,
    )
    return [row["type"] for row in rows]


async def test_a_yaml_body_creates_the_pipeline(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    project = await new_project(http, admin)
    text = textwrap.dedent(
        f"""\
        project_id: {project}
        name: from yaml
        steps:
          - name: build
            run: make build
          - name: test
            run: make test
            needs: [build]
        """
    )
    created = await http.post("/api/v1/pipelines", content=text, headers={**admin, **YAML})

    assert created.status_code == 201, created.text
    shown = await http.get(
        f"/api/v1/pipelines/{created.json()['id']}",
        params={"min_position": created.json()["position"]},
        headers=admin,
    )
    assert shown.json()["name"] == "from yaml"
    assert [s["name"] for s in shown.json()["definition"]["steps"]] == ["build", "test"]


@pytest.mark.parametrize(
    ("text", "code", "field", "line", "column"),
    [
        ("name: [unclosed\nsteps: []\n", "invalid_yaml", None, 2, 6),
        ("x: &a [1, 2]\nname: *a\nsteps: []\n", "invalid_yaml", None, 2, 7),
        ("name: b\nsteps:\n  - name: build\n    run: make\n    retries: many\n",
         "invalid_value", "steps[0].retries", 5, 14),
        ("name: b\nsteps:\n  - name: build\n    run: make\n    colour: blue\n",
         "invalid_value", "steps[0]", 3, 5),
        ("name: b\nsteps:\n  - {name: build, run: make, needs: [nope]}\n",
         "invalid_value", "steps[0].needs", 3, 37),
        ("name: b\nsteps:\n  - {name: build, run: make}\ntriggers:\n"
         "  - source: schedule\n    cron: 61 * * * *\n",
         "invalid_value", "triggers[0].cron", 6, 11),
    ],
)  # fmt: skip
async def test_a_refused_yaml_body_is_a_422_with_its_place_as_for_put(
    http: httpx.AsyncClient,
    admin: dict[str, str],
    services: Services,
    text: str,
    code: str,
    field: str | None,
    line: int | None,
    column: int | None,
) -> None:
    project = await new_project(http, admin)
    response = await http.post(
        "/api/v1/pipelines", content=f"project_id: {project}\n{text}", headers={**admin, **YAML}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == code, problem
    assert problem.get("field") == field, problem
    # The project line comes first: every place is one line further down than in `text`.
    assert (problem.get("line"), problem.get("column")) == (line + 1, column), problem
    assert await pipeline_events(services, project) == []


async def test_a_yaml_body_without_a_project_is_refused(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await http.post(
        "/api/v1/pipelines", content="name: b\nsteps: [{name: a, run: x}]\n",
        headers={**admin, **YAML},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert "project_id" in response.json()["detail"]
