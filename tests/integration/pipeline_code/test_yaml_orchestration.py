"""Conditions, matrices and concurrency groups written in a pipeline file (YAML over HTTP)."""

from __future__ import annotations

import textwrap
from typing import Any

import httpx
import pytest
import yaml

from tests.integration.pipeline_code.test_yaml_api import YAML, new_pipeline

ORCHESTRATED = textwrap.dedent(
    """\
    name: orchestrated
    concurrency:
      group: deploy-${{ branch }}
      policy: cancel_in_progress
    steps:
      - name: build
        run: make
      - name: test
        needs: [build]
        run: pytest --python ${{ matrix.python }}
        matrix:
          python: ["3.11", "3.12"]
          os: [linux, mac]
          exclude:
            - {os: mac, python: "3.11"}
        fail_fast: false
        max_parallel: 2
      - name: cleanup
        needs: [test]
        if: ${{ always() && steps.build.outcome == 'success' }}
        run: rm -rf out
    """
)


@pytest.fixture
async def http(base_url: str) -> Any:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


async def test_a_pipeline_file_carries_if_matrix_and_concurrency(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    pipeline = await new_pipeline(http, admin)
    put = await http.put(
        f"/api/v1/pipelines/{pipeline}", content=ORCHESTRATED, headers={**admin, **YAML}
    )
    assert put.status_code == 202, put.text
    shown = await http.get(
        f"/api/v1/pipelines/{pipeline}/visualization",
        params={"min_position": put.json()["position"]},
        headers=admin,
    )
    assert shown.status_code == 200, shown.text
    assert [n["name"] for n in shown.json()["nodes"]] == [
        "build", "test (os=linux, python=3.11)", "test (os=linux, python=3.12)",
        "test (os=mac, python=3.12)", "cleanup",
    ]  # fmt: skip
    definition = (await http.get(f"/api/v1/pipelines/{pipeline}", headers=admin)).json()
    steps = definition["definition"]["steps"]
    assert steps[2]["if"] == "${{ always() && steps.build.outcome == 'success' }}"
    assert definition["definition"]["concurrency"]["policy"] == "cancel_in_progress"


async def test_a_bad_condition_in_a_file_is_a_422_naming_the_field(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    pipeline = await new_pipeline(http, admin)
    text = ORCHESTRATED.replace("steps.build.outcome ==", "steps.build.outcome =")
    put = await http.put(f"/api/v1/pipelines/{pipeline}", content=text, headers={**admin, **YAML})
    assert put.status_code == 422, put.text
    assert put.json()["field"] == "steps[2].if"
    assert "unexpected character '='" in put.json()["detail"]
    assert yaml.safe_load(text)["steps"][2]["if"].startswith("${{")
